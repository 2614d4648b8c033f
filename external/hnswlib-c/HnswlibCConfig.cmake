# SPDX-License-Identifier: MIT
#
# HnswlibCConfig.cmake - makes `find_package(HnswlibC CONFIG)` work with this
# source folder in HINTS or CMAKE_PREFIX_PATH: the folder is added to the
# calling build (once) and provides the target HnswlibC::hnswlib_c.
#
# The parent may set HNSWLIB_C_TESTS (register the unit test with its ctest),
# HNSWLIB_C_SIMD_MAX and HNSWLIB_C_WERROR before calling find_package().
include_guard(GLOBAL)

if(NOT TARGET hnswlib_c)
  add_subdirectory(${CMAKE_CURRENT_LIST_DIR}
    ${CMAKE_BINARY_DIR}/external/hnswlib-c)
endif()
if(NOT TARGET HnswlibC::hnswlib_c)
  # The subdirectory defines the alias; if a build defined hnswlib_c some
  # other way, the alias must still exist.
  add_library(HnswlibC::hnswlib_c ALIAS hnswlib_c)
endif()

if(NOT TARGET HnswlibC::kernels)
  add_library(HnswlibC::kernels ALIAS hnswlib_c_kernels)
endif()

set(HnswlibC_FOUND TRUE)
set(HnswlibC_LIBRARIES HnswlibC::hnswlib_c)
