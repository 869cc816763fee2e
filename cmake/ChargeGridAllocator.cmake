# The malloc a program runs on: glibc's, or mimalloc / jemalloc (Debian's libmimalloc-dev,
# libjemalloc-dev) linked in to replace it in the whole process. chargegridd and the load
# generator use it; docs/benchmarks.md has the measurements behind the default. The sanitizer
# build keeps its own allocator.
set(CHARGEGRID_ALLOCATOR "mimalloc" CACHE STRING "malloc of chargegridd and the load generator: glibc, mimalloc or jemalloc")
set_property(CACHE CHARGEGRID_ALLOCATOR PROPERTY STRINGS glibc mimalloc jemalloc)

function(chargegrid_link_allocator target)
  if(CHARGEGRID_ALLOCATOR STREQUAL "glibc" OR CHARGEGRID_SANITIZE)
    return()
  endif()
  if(NOT CHARGEGRID_ALLOCATOR MATCHES "^(mimalloc|jemalloc)$")
    message(FATAL_ERROR "CHARGEGRID_ALLOCATOR: glibc, mimalloc or jemalloc, not ${CHARGEGRID_ALLOCATOR}")
  endif()
  find_library(CHARGEGRID_${CHARGEGRID_ALLOCATOR}_LIBRARY NAMES ${CHARGEGRID_ALLOCATOR} REQUIRED)
  # Nothing calls it by name: keep it linked so its malloc replaces glibc's.
  target_link_libraries(${target} PRIVATE "-Wl,--push-state,--no-as-needed"
                        ${CHARGEGRID_${CHARGEGRID_ALLOCATOR}_LIBRARY} "-Wl,--pop-state")
endfunction()
