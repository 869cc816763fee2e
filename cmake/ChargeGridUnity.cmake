# Unity builds: several source files compiled as one translation unit, so the Asio, Beast,
# nlohmann/json and libpqxx templates they share are instantiated and compiled once per unit
# instead of once per file (the cold build's main cost; docs/benchmarks.md, "The test run").
# -DCHARGEGRID_UNITY_BUILD=OFF compiles file by file (quicker when editing one file).
# In a unit, file-local helpers (anonymous namespaces, static functions) must have names
# unique within it.
option(CHARGEGRID_UNITY_BUILD "Compile related source files as one translation unit" ON)

# Every source of the target in one unit (a test executable).
function(chargegrid_unity_whole target)
  if(CHARGEGRID_UNITY_BUILD)
    set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 0)
    chargegrid_unity_quiet(${target})
  endif()
endfunction()

# One unit per folder under src/ (a functional block: api/, store/, settlement/...); files
# directly in src/ and generated ones are compiled on their own. Units stay small enough for
# both cores to work side by side, and a change rebuilds only its block.
function(chargegrid_unity_by_folder target)
  if(NOT CHARGEGRID_UNITY_BUILD)
    return()
  endif()
  get_target_property(sources ${target} SOURCES)
  foreach(source IN LISTS sources)
    if(source MATCHES "^src/([a-z_0-9]+)/")
      set_source_files_properties(${source} TARGET_DIRECTORY ${target}
                                  PROPERTIES UNITY_GROUP "${CMAKE_MATCH_1}")
    else()
      set_source_files_properties(${source} TARGET_DIRECTORY ${target}
                                  PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
    endif()
  endforeach()
  set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_MODE GROUP)
  chargegrid_unity_quiet(${target})
endfunction()

# g++ warns when a header's template is instantiated with a type local to a file that is not
# the unit's main file, which every file of a unit is (lambdas kept in coroutine frames).
function(chargegrid_unity_quiet target)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-subobject-linkage)
  endif()
endfunction()
