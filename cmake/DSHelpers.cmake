##===- DSHelpers.cmake - thin helpers over add_mlir_* ---------*- cmake -*-===##
#
# Every ds library links the MLIR dylib rather than the static component
# archives, so `add_ds_library` wraps add_mlir_library with that choice.
#
##===----------------------------------------------------------------------===##

function(add_ds_library name)
  cmake_parse_arguments(ARG "" "" "DEPENDS;LINK_LIBS" ${ARGN})
  add_mlir_library(${name} ${ARG_UNPARSED_ARGUMENTS}
    EXCLUDE_FROM_LIBMLIR
    DISABLE_INSTALL
    DEPENDS ${ARG_DEPENDS})
  target_link_libraries(${name} PUBLIC MLIR LLVM ${ARG_LINK_LIBS})
endfunction()
