// The books: the epoll sets, their registrations and zombies, as the wrappers change them (under
// a Guard).

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <atomic>
#include <cstring>

#include "books.hpp"
#include "interposer.hpp"
#include "kernel_view.hpp"
#include "records.hpp"

namespace pollscope::interposer {

Tables* tables = nullptr;
std::atomic<int> highest{-1};
std::atomic<int> zombie_count{0};
pid_t owner = 0;

void reset_tables() {
  std::memset(tables->is_epoll, 0, sizeof tables->is_epoll);
  std::memset(tables->shared, 0, sizeof tables->shared);
  std::memset(tables->keeps, 0, sizeof tables->keeps);
  for (int& first : tables->first_registration) first = -1;
  for (int i = 0; i < kMaxRegistrations; ++i) tables->registrations[i].next = i + 1;
  tables->registrations[kMaxRegistrations - 1].next = -1;
  tables->free_registration = 0;
  for (auto& zombie : tables->zombies) zombie.epoll_fd = -1;
  highest = -1;
  zombie_count = 0;
}

namespace {

int find_registration(int epoll_fd, int fd, int** link) {
  int* at = &tables->first_registration[fd];
  while (*at >= 0 && tables->registrations[*at].epoll_fd != epoll_fd)
    at = &tables->registrations[*at].next;
  *link = at;
  return *at;
}

void forget_zombie(Zombie& zombie) {
  if (zombie.keeper >= 0) --tables->keeps[zombie.keeper];
  zombie.epoll_fd = -1;
  --zombie_count;
}

void forget_zombies_of(int epoll_fd) {
  for (auto& zombie : tables->zombies)
    if (zombie.epoll_fd == epoll_fd) forget_zombie(zombie);
}

void keep(Zombie& zombie, int keeper) {
  zombie.keeper = keeper >= 0 && keeper < kMaxFd ? keeper : -1;
  if (zombie.keeper >= 0) ++tables->keeps[zombie.keeper];
}

// An epoll instance's descriptor closed: the kernel dropped its registrations with it.
void forget_registrations_of(int epoll_fd) {
  const int top = highest;
  for (int fd = 0; fd <= top; ++fd) {
    int* link = nullptr;
    const int index = find_registration(epoll_fd, fd, &link);
    if (index < 0) continue;
    *link = tables->registrations[index].next;
    tables->registrations[index].next = tables->free_registration;
    tables->free_registration = index;
  }
}

// Another open number of the set known as `set` (a dup of its descriptor), or -1.
int other_number_of(int set) {
  const int top = highest;
  for (int fd = 0; fd <= top; ++fd)
    if (tables->is_epoll[fd] && tables->set_number[fd] == set) return fd;
  return -1;
}

// The set known as `from` is known as `to` from now on: its numbers, registrations and zombies.
void renumber_set(int from, int to) {
  tables->shared[to] = tables->shared[from];
  const int top = highest;
  for (int fd = 0; fd <= top; ++fd) {
    if (tables->is_epoll[fd] && tables->set_number[fd] == from) tables->set_number[fd] = to;
    for (int at = tables->first_registration[fd]; at >= 0; at = tables->registrations[at].next)
      if (tables->registrations[at].epoll_fd == from) tables->registrations[at].epoll_fd = to;
  }
  for (auto& zombie : tables->zombies)
    if (zombie.epoll_fd == from) zombie.epoll_fd = to;
}

// The live registrations of `epoll_fd` under `data`.
int count_live(int epoll_fd, std::uint64_t data) {
  int count = 0;
  const int top = highest;
  for (int fd = 0; fd <= top; ++fd) {
    for (int at = tables->first_registration[fd]; at >= 0; at = tables->registrations[at].next)
      count +=
          tables->registrations[at].epoll_fd == epoll_fd && tables->registrations[at].data == data;
  }
  return count;
}

// A live registration of `epoll_fd` under `data` came (+1) or went (-1).
void count_twin(int epoll_fd, std::uint64_t data, int change) {
  if (zombie_count.load(std::memory_order_relaxed) == 0) return;
  for (auto& zombie : tables->zombies)
    if (zombie.epoll_fd == epoll_fd && zombie.data == data) zombie.live_twins += change;
}

// Whether a zombie of `epoll_fd` holds the number `fd`.
bool zombie_under(int epoll_fd, int fd) {
  if (zombie_count.load(std::memory_order_relaxed) == 0) return false;
  for (const auto& zombie : tables->zombies)
    if (zombie.epoll_fd == epoll_fd && zombie.fd == fd) return true;
  return false;
}

void close_registration(int fd, int index) {
  auto& registration = tables->registrations[index];
  const Fate fate = fate_after_close(
      registration.epoll_fd, fd, registration.data, {registration.inode, registration.device},
      registration.listed_before, registration.position, registration.made_by == owner);
  const auto events = __atomic_load_n(&registration.events, __ATOMIC_RELAXED);
  Line line(fate.lives ? 'Z' : 'V');
  line.number(registration.epoll_fd).number(fd);
  if (fate.lives) line.number(fate.keeper);
  line.unsigned_number(events).unsigned_number(registration.data);
  line.number(registration.made_by != owner ? 1 : 0).write();
  if (!fate.lives) return;
  for (auto& zombie : tables->zombies) {
    if (zombie.epoll_fd >= 0) continue;
    // Counted with the registration itself, which note_closed removes next.
    zombie = {registration.epoll_fd,
              fd,
              registration.data,
              count_live(registration.epoll_fd, registration.data),
              -1,
              -1,
              -1,
              registration.inode,
              registration.device};
    keep(zombie, fate.keeper);
    ++zombie_count;
    break;
  }
}

// Just before a zombie's keeper closes: what the kernel lists under the zombie's number, and
// where the zombie is among them, so that its end (the count falls) is told from a registration
// of another file under the number.
void note_keeper_closing(int keeper) {
  for (auto& zombie : tables->zombies) {
    if (zombie.epoll_fd < 0 || zombie.keeper != keeper) continue;
    zombie.listed_before = kernel_count(zombie.epoll_fd, zombie.fd);
    zombie.position = position_of_file(zombie.epoll_fd, zombie.fd, keeper, zombie.listed_before);
    if (zombie.position < 0) zombie.listed_before = -1;
  }
}

// A zombie's keeper closed: another descriptor of ours may keep its file still (the zombie lives
// on, kept by it), or another process; else the registration ended with the keeper (K record).
void keeper_closed(int keeper) {
  for (auto& zombie : tables->zombies) {
    if (zombie.epoll_fd < 0 || zombie.keeper != keeper) continue;
    --tables->keeps[keeper];
    zombie.keeper = -1;
    if (zombie_lives(zombie.epoll_fd, zombie.fd, zombie.data, {zombie.inode, zombie.device},
                     zombie.listed_before)) {
      keep(zombie,
           keeper_of(zombie.epoll_fd, zombie.fd, zombie.position < 0 ? 0 : zombie.position));
      zombie.listed_before = zombie.position = -1;
      continue;
    }
    Line('K')
        .number(zombie.epoll_fd)
        .number(zombie.fd)
        .unsigned_number(zombie.data)
        .number(keeper)
        .write();
    forget_zombie(zombie);
  }
}

}  // namespace

bool tracked(int fd) {
  if (tables == nullptr || fd < 0 || fd >= kMaxFd) return false;
  return __atomic_load_n(&tables->is_epoll[fd], __ATOMIC_RELAXED) != 0 ||
         __atomic_load_n(&tables->first_registration[fd], __ATOMIC_RELAXED) >= 0 ||
         __atomic_load_n(&tables->keeps[fd], __ATOMIC_RELAXED) != 0;
}

void note_epoll(int epoll_fd, bool made_here) {
  if (epoll_fd < 0 || epoll_fd >= kMaxFd) return;
  tables->is_epoll[epoll_fd] = 1;
  tables->set_number[epoll_fd] = epoll_fd;
  tables->shared[epoll_fd] = made_here ? 0 : 1;
  if (epoll_fd > highest) highest = epoll_fd;
  Line('C').number(epoll_fd).write();
}

bool is_epoll(int epoll_fd) {
  return epoll_fd >= 0 && epoll_fd < kMaxFd && tables->is_epoll[epoll_fd] != 0;
}

int set_of(int epoll_fd) {
  if (tables == nullptr || !is_epoll(epoll_fd)) return epoll_fd;
  return __atomic_load_n(&tables->set_number[epoll_fd], __ATOMIC_RELAXED);
}

void note_sets_shared() {
  if (tables == nullptr) return;
  const int top = highest;
  for (int fd = 0; fd <= top; ++fd)
    if (tables->is_epoll[fd]) tables->shared[tables->set_number[fd]] = 1;
}

void note_set_shared(int epoll_fd) {
  if (tables != nullptr && is_epoll(epoll_fd)) tables->shared[set_of(epoll_fd)] = 1;
}

void note_duplicated(int original, int copy) {
  Line('U').number(original).number(copy).write();
  if (!is_epoll(original) || copy < 0 || copy >= kMaxFd) return;
  tables->set_number[copy] = tables->set_number[original];
  __atomic_store_n(&tables->is_epoll[copy], 1, __ATOMIC_RELAXED);
  if (copy > highest) highest = copy;
}

void note_registration(int epoll_fd, int fd, std::uint64_t data, std::uint32_t events) {
  if (fd < 0 || fd >= kMaxFd) return;
  int* link = nullptr;
  int index = find_registration(epoll_fd, fd, &link);
  if (index < 0) {
    index = tables->free_registration;
    if (index < 0) return;  // full: the grader still has the record
    tables->free_registration = tables->registrations[index].next;
    struct stat file {};
    const bool known = ::fstat(fd, &file) == 0;
    // fdinfo's sdev is the kernel's encoding of the device: major << 20 | minor.
    const auto device = static_cast<std::uint32_t>((major(file.st_dev) << 20) | minor(file.st_dev));
    tables->registrations[index] = {epoll_fd,
                                    fd,
                                    data,
                                    tables->first_registration[fd],
                                    events,
                                    -1,
                                    -1,
                                    owner,
                                    known ? static_cast<std::uint64_t>(file.st_ino) : 0,
                                    known ? device : 0};
    __atomic_store_n(&tables->first_registration[fd], index, __ATOMIC_RELAXED);
    count_twin(epoll_fd, data, +1);
  } else if (tables->registrations[index].data != data) {
    count_twin(epoll_fd, tables->registrations[index].data, -1);
    count_twin(epoll_fd, data, +1);
  }
  tables->registrations[index].data = data;
  __atomic_store_n(&tables->registrations[index].events, events, __ATOMIC_RELAXED);
  if (fd > highest) highest = fd;
}

bool refresh_if_registered_as(int epoll_fd, int fd, std::uint64_t data, std::uint32_t events) {
  if (tables == nullptr || log_descriptor() < 0 || fd < 0 || fd >= kMaxFd) return false;
  int* link = nullptr;
  const int index = find_registration(epoll_fd, fd, &link);
  if (index < 0 || tables->registrations[index].data != data) return false;
  __atomic_store_n(&tables->registrations[index].events, events, __ATOMIC_RELAXED);
  return true;
}

void note_deregistration(int epoll_fd, int fd) {
  if (fd < 0 || fd >= kMaxFd) return;
  int* link = nullptr;
  const int index = find_registration(epoll_fd, fd, &link);
  if (index < 0) return;
  count_twin(epoll_fd, tables->registrations[index].data, -1);
  __atomic_store_n(link, tables->registrations[index].next, __ATOMIC_RELAXED);
  tables->registrations[index].next = tables->free_registration;
  tables->free_registration = index;
}

// Only where the count after the close could mislead: a zombie of the set is listed under the
// number, or another process may have registered a file of its own under it (in a shared set,
// eventfds and other files on one anonymous inode are told apart by nothing else).
void note_closing(int fd) {
  if (fd < 0 || fd >= kMaxFd) return;
  if (tables->keeps[fd] != 0) note_keeper_closing(fd);
  for (int at = tables->first_registration[fd]; at >= 0; at = tables->registrations[at].next) {
    auto& registration = tables->registrations[at];
    if (!tables->shared[registration.epoll_fd] && !zombie_under(registration.epoll_fd, fd))
      continue;
    registration.listed_before = kernel_count(registration.epoll_fd, fd);
    registration.position = position_of(registration.epoll_fd, fd, registration.listed_before);
  }
}

void note_closed(int fd) {
  if (fd < 0 || fd >= kMaxFd) return;
  if (tables->is_epoll[fd]) {
    tables->is_epoll[fd] = 0;
    const int set = tables->set_number[fd];
    const int other = other_number_of(set);
    if (other < 0) {
      forget_zombies_of(set);
      forget_registrations_of(set);
      Line('X').number(set).write();
    } else if (set == fd) {
      renumber_set(set, other);
      Line('N').number(set).number(other).write();
    }  // else: another number of a set that lives on under its own
  }
  while (tables->first_registration[fd] >= 0) {
    const int index = tables->first_registration[fd];
    close_registration(fd, index);
    note_deregistration(tables->registrations[index].epoll_fd, fd);
  }
  if (tables->keeps[fd] != 0) keeper_closed(fd);
}

void note_delivered(int epoll_fd, const void* events, int count) {
  if (epoll_fd < 0 || epoll_fd >= kMaxFd) return;
  // epoll_event is packed on x86-64: a 32-bit mask, then the 64-bit data.
  const auto* bytes = static_cast<const unsigned char*>(events);
  for (int z = 0; z < kMaxZombies; ++z) {
    const Zombie& zombie = tables->zombies[z];
    if (zombie.epoll_fd != epoll_fd || zombie.live_twins > 0) continue;
    // Zombies under one token share its events: one record for them all.
    bool counted = false;
    for (int earlier = 0; earlier < z && !counted; ++earlier)
      counted = tables->zombies[earlier].epoll_fd == epoll_fd &&
                tables->zombies[earlier].data == zombie.data;
    if (counted) continue;
    std::uint64_t ghosts = 0;
    for (int i = 0; i < count; ++i) {
      std::uint64_t data = 0;
      std::memcpy(&data, bytes + static_cast<std::size_t>(i) * 12 + 4, sizeof data);
      ghosts += data == zombie.data;
    }
    if (ghosts > 0)
      Line('G').number(epoll_fd).unsigned_number(zombie.data).unsigned_number(ghosts).write();
  }
}

int highest_tracked() {
  return highest;
}

bool any_zombies() {
  return zombie_count.load(std::memory_order_relaxed) > 0;
}

}  // namespace pollscope::interposer
