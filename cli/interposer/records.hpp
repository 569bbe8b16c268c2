#pragma once

// The lines the interposer writes, one per event, space separated; the grader in
// cli/src/trace/ reads them (trace_records.cpp). A line is written with one write(2) to a file
// opened with O_APPEND, so that concurrent threads never interleave.
//
//   I <pid> <parent pid> <executable>        a process image starts being traced
//   C <epoll fd>                              an epoll instance was created
//   A|M|D <epoll fd> <fd> <events> <data> <result> <errno> <time> [<module>@<hex offset>]...
//                                             epoll_ctl ADD, MOD or DEL (ADD with its stack);
//                                             <time>: CLOCK_MONOTONIC ns, taken after an ADD or
//                                             MOD returned and before a DEL was called, so that
//                                             a DEL by one process and an ADD by another that
//                                             the kernel ran after it are in that order
//   V <epoll fd> <fd> <events> <data> <inherited>
//                                             fd closed while registered; the kernel removed it
//   Z <epoll fd> <fd> <keeper> <events> <data> <inherited>
//                                             fd closed while registered; the registration lives
//                                             on, its file kept by descriptor <keeper> (-1: by
//                                             another process)
//                                             (<events>: the mask last set, MODs included;
//                                             <inherited> 1: made by the parent before a fork,
//                                             so this process's log has no A for it)
//   K <epoll fd> <fd> <data> <keeper>         a zombie's registration ended: <keeper>, the last
//                                             descriptor of its file, closed
//   G <epoll fd> <data> <count>               events delivered under a zombie's token (one line
//                                             for all zombies of the set under it; none while a
//                                             live registration of the set has that token too)
//   U <old fd> <new fd>                       a tracked descriptor was duplicated
//   X <epoll fd>                              an epoll instance's descriptor was closed (its
//                                             last number: a dup of it keeps the set)
//   N <old epoll fd> <new epoll fd>           the number a set was known by closed, and a dup
//                                             of it keeps the set: known by the new from now on
//   E <pid> <parent pid> <program>            an exec is about to be made (<program> made
//                                             absolute, or a name searched in PATH); the new
//                                             image starts with an I record in the same log
//                                             unless it could not load the interposer
//   R <errno>                                 the exec before it failed
//   P <child pid> <program>                   posix_spawn started <program> as <child pid>
//   Q <fd>                                    the process made or holds an io_uring instance
//                                             (once per image, at the first ring made or found):
//                                             epoll changes made through it are unseen (<fd>
//                                             -1: a ring kept with no descriptor)

namespace pollscope::interposer {

inline constexpr const char* kTraceDirEnv = "POLLSCOPE_TRACE_DIR";
inline constexpr const char* kLibraryEnv = "POLLSCOPE_INTERPOSER";

}  // namespace pollscope::interposer
