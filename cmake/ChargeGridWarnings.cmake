# The project's warning set, for every target of ours.
function(chargegrid_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                                           -Wnon-virtual-dtor -Wno-missing-field-initializers)
  # g++ 12 reports the frames of Asio's C++20 coroutines (allocated and freed by the frame's
  # own operator new/delete) as mismatched wherever inlining happens to expose them: a known
  # false positive (GCC PR middle-end/109224), not a defect of ours.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-mismatched-new-delete)
  endif()
endfunction()
