# The sanitizer build (scripts/build --sanitize, build-sanitize).
#
# CHARGEGRID_SANITIZE: AddressSanitizer and UndefinedBehaviorSanitizer on everything; any
# undefined behaviour aborts, so tests and fuzzers fail on it.
# CHARGEGRID_FUZZ (clang only, implies CHARGEGRID_SANITIZE): also libFuzzer's coverage
# instrumentation, and tests/fuzz adds one fuzzer binary per target. The same build then
# serves the sanitizer test run and the fuzzers (scripts/test, scripts/fuzz).
option(CHARGEGRID_SANITIZE "Build with AddressSanitizer and UBSan" OFF)
option(CHARGEGRID_FUZZ "Also build the libFuzzer targets of tests/fuzz (clang only)" OFF)

if(CHARGEGRID_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "CHARGEGRID_FUZZ needs clang's libFuzzer: configure with "
                        "-DCMAKE_CXX_COMPILER=clang++ (scripts/build --sanitize does)")
  endif()
  set(CHARGEGRID_SANITIZE ON CACHE BOOL "Build with AddressSanitizer and UBSan" FORCE)
endif()

if(CHARGEGRID_SANITIZE)
  set(chargegrid_sanitizers -fsanitize=address,undefined -fno-sanitize-recover=undefined)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    # clang 14 cannot emit -fsanitize=function's prologue data for split coroutine
    # functions ("Cannot represent a difference across sections", LLVM issue 49689).
    list(APPEND chargegrid_sanitizers -fno-sanitize=function)
  endif()
  add_compile_options(${chargegrid_sanitizers} -fno-omit-frame-pointer)
  add_link_options(${chargegrid_sanitizers})
endif()

if(CHARGEGRID_FUZZ)
  # Line tables are enough for readable reports and keep the debug build quick to link.
  add_compile_options(-fsanitize=fuzzer-no-link -gline-tables-only)
endif()
