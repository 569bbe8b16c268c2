# Run at every build of pollscope (cmake -P, with SOURCE_DIR and OUTPUT): writes the tree's git
# revision, "-dirty" when tracked files differ from it, into the header OUTPUT, and rewrites it
# only when that changed. A report then names the tree that was built, not the one last
# configured, and a new commit recompiles the one file that includes the header.
execute_process(COMMAND git -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
                OUTPUT_VARIABLE revision OUTPUT_STRIP_TRAILING_WHITESPACE
                ERROR_QUIET RESULT_VARIABLE result)
if(NOT result EQUAL 0 OR NOT revision)
  set(revision unknown)  # not a git checkout (an unpacked archive), or no git
else()
  execute_process(COMMAND git -C "${SOURCE_DIR}" diff --quiet HEAD --
                  RESULT_VARIABLE differs OUTPUT_QUIET ERROR_QUIET)
  if(differs EQUAL 1)
    string(APPEND revision "-dirty")
  endif()
endif()
string(CONCAT content "// Written at build time by cmake/write_revision.cmake.\n#pragma once\n\n"
       "#define POLLSCOPE_GIT_REVISION \"${revision}\"\n")
set(previous "")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" previous)
endif()
if(NOT previous STREQUAL content)
  file(WRITE "${OUTPUT}" "${content}")
endif()
