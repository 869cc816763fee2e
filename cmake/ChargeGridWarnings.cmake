# chargegrid_warnings(target): the warning set every ChargeGrid target builds with.
function(chargegrid_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                                           -Wnon-virtual-dtor -Wno-missing-field-initializers)
endfunction()
