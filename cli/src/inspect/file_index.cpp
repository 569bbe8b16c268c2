#include "inspect/file_index.hpp"

#include <sys/stat.h>

#include <fmt/format.h>

#include "inspect/file_identity.hpp"

namespace pollscope {

std::optional<FileStat> stat_fd(pid_t pid, int fd) {
  struct stat status {};
  if (::stat(fmt::format("/proc/{}/fd/{}", pid, fd).c_str(), &status) != 0) return std::nullopt;
  return FileStat{status.st_ino, status.st_dev};
}

FileIndex::FileIndex(std::vector<Holder> holders) {
  for (std::size_t i = 0; i < holders.size(); ++i) {
    const auto file = stat_fd(holders[i].pid, holders[i].fd);
    if (!file) continue;  // closed meanwhile
    auto& group = groups_[{file->inode, file->device}];
    group.members.push_back({std::move(holders[i]), i});
  }
}

std::optional<std::vector<Holder>> FileIndex::holding(const Registered& registered) {
  std::vector<Member> found;
  const auto& kernel = registered.kernel;
  for (auto& [key, group] : groups_) {
    if (kernel.inode && key.first != *kernel.inode) continue;
    if (kernel.device && key.second != *kernel.device) continue;
    if (!order(group)) return std::nullopt;
    if (!find_in(group, registered, found)) return std::nullopt;
  }
  std::sort(found.begin(), found.end(),
            [](const Member& a, const Member& b) { return a.given < b.given; });
  std::vector<Holder> holders;
  for (auto& member : found) holders.push_back(std::move(member.holder));
  return holders;
}

bool FileIndex::order(Group& group) {
  if (group.ordered) return !group.refused;
  group.ordered = true;
  merge_sort(group.members, [&](const Member& a, const Member& b) {
    const auto answer = compare_files(a.holder.pid, a.holder.fd, b.holder.pid, b.holder.fd);
    if (answer == FileOrder::kUnknown) group.refused = true;
    if (answer == FileOrder::kLess) return true;
    if (answer == FileOrder::kNoDescriptor) return a.given < b.given;  // closed: any place
    return false;
  });
  return !group.refused;
}

// A member closed meanwhile, whose answer cannot steer the bisection, makes it ask each member in
// turn, as before.
bool FileIndex::find_in(const Group& group, const Registered& registered,
                        std::vector<Member>& found) {
  const auto ask = [&](const Member& member) {
    return compare_with_registration(member.holder.pid, member.holder.fd, registered.owner,
                                     registered.epoll_fd, registered.kernel.target_fd,
                                     registered.occurrence);
  };
  const auto& members = group.members;
  std::size_t low = 0;
  std::size_t high = members.size();
  while (low < high) {
    const auto middle = low + (high - low) / 2;
    switch (ask(members[middle])) {
      case FileOrder::kLess:
        low = middle + 1;
        break;
      case FileOrder::kSame:
      case FileOrder::kGreater:
        high = middle;
        break;
      case FileOrder::kNoRegistration:
        return true;  // gone from the set: nobody holds it as registered
      case FileOrder::kUnknown:
        return false;
      case FileOrder::kNoDescriptor:
        for (const auto& member : members)
          if (ask(member) == FileOrder::kSame) found.push_back(member);
        return true;
    }
  }
  if (low == members.size() || ask(members[low]) != FileOrder::kSame) return true;
  found.push_back(members[low]);
  for (auto next = low + 1; next < members.size(); ++next) {
    const auto& first = members[low].holder;
    const auto& other = members[next].holder;
    if (compare_files(first.pid, first.fd, other.pid, other.fd) != FileOrder::kSame) break;
    found.push_back(members[next]);
  }
  return true;
}

}  // namespace pollscope
