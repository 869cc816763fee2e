# chargegrid_warnings(target): the warning set every ChargeGrid target builds with.
function(chargegrid_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                                           -Wnon-virtual-dtor -Wno-missing-field-initializers)
  # GCC reports Asio's coroutine frames (allocated and freed by the frame's own
  # operator new/delete through Asio's recycling allocator) as mismatched once
  # enough is inlined: a known false positive (GCC PR middle-end/109224) that
  # comes and goes with unrelated edits to large coroutines.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-mismatched-new-delete)
  endif()
endfunction()
