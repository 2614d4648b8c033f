# SPDX-License-Identifier: MIT
#
# OsaDeps.cmake - the project's own imported targets for its Debian
# dependencies.  With OSA_STATIC they point at the static archives (Debian's
# own CMake configs, where they exist, only offer shared libraries: nng's
# would make `-static` fail with "attempted static link of dynamic object");
# otherwise at the shared libraries (sanitizer builds link dynamically).
#
#   osa::config   libconfig            osa::jansson  jansson
#   osa::lmdb     LMDB                 osa::nng      nng (+ mbedtls when static)
#   osa::mbedx509 mbedtls's X.509 and osa::mbedcrypto (certificate checks)
#   osa::xxhash   xxHash (journal checksums)
#   osa::utf8proc utf8proc             osa::stemmer  Snowball's libstemmer
#   osa::blas     the BLAS Kconfig picked (CONFIG_OSA_BLAS_OPENBLAS or
#                 CONFIG_OSA_BLAS_REFERENCE), with a cblas header

include_guard(GLOBAL)

set(OSA_DEPS_HINT "run scripts/install-deps (as root) to install the Debian packages")

# osa_dep(<target> <header> <package> <libnames...>)
function(osa_dep target header pkg)
  string(MAKE_C_IDENTIFIER "${target}" id)
  string(TOUPPER "OSA_DEP_${id}" id)
  find_path(${id}_INCLUDE NAMES ${header})
  set(names "")
  foreach(n IN LISTS ARGN)
    if(OSA_STATIC)
      list(APPEND names lib${n}.a)
    else()
      list(APPEND names ${n})
    endif()
  endforeach()
  find_library(${id}_LIBRARY NAMES ${names})
  if(NOT ${id}_INCLUDE OR NOT ${id}_LIBRARY)
    message(FATAL_ERROR "${target}: ${header} or the library (${names}) "
      "not found; it comes from Debian's ${pkg}: ${OSA_DEPS_HINT}")
  endif()
  if(OSA_STATIC)
    add_library(${target} STATIC IMPORTED GLOBAL)
  else()
    add_library(${target} UNKNOWN IMPORTED GLOBAL)
  endif()
  set_target_properties(${target} PROPERTIES
    IMPORTED_LOCATION "${${id}_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${${id}_INCLUDE}")
endfunction()

find_package(Threads REQUIRED)

osa_dep(osa::config libconfig.h libconfig-dev config)
osa_dep(osa::jansson jansson.h libjansson-dev jansson)
osa_dep(osa::lmdb lmdb.h liblmdb-dev lmdb)
osa_dep(osa::nng nng/nng.h libnng-dev nng)
osa_dep(osa::xxhash xxhash.h libxxhash-dev xxhash)
osa_dep(osa::utf8proc utf8proc.h libutf8proc-dev utf8proc)
osa_dep(osa::stemmer libstemmer.h libstemmer-dev stemmer)
if(OSA_STATIC)
  # utf8proc's header marks its API dllimport unless told it is static.
  set_property(TARGET osa::utf8proc APPEND PROPERTY
    INTERFACE_COMPILE_DEFINITIONS UTF8PROC_STATIC)
endif()
if(OSA_STATIC)
  # Debian's libnng is built with the mbedtls TLS engine.
  foreach(m mbedtls mbedx509 mbedcrypto)
    find_library(OSA_${m}_LIBRARY NAMES lib${m}.a)
    if(NOT OSA_${m}_LIBRARY)
      message(FATAL_ERROR "lib${m}.a not found (libmbedtls-dev): ${OSA_DEPS_HINT}")
    endif()
  endforeach()
  set_property(TARGET osa::nng APPEND PROPERTY INTERFACE_LINK_LIBRARIES
    ${OSA_mbedtls_LIBRARY} ${OSA_mbedx509_LIBRARY} ${OSA_mbedcrypto_LIBRARY}
    Threads::Threads)
endif()
# mbedtls itself: `osa config check` checks a certificate against its key.
osa_dep(osa::mbedcrypto mbedtls/pk.h libmbedtls-dev mbedcrypto)
osa_dep(osa::mbedx509 mbedtls/x509_crt.h libmbedtls-dev mbedx509)
set_property(TARGET osa::mbedx509 APPEND PROPERTY INTERFACE_LINK_LIBRARIES
  osa::mbedcrypto)

# BLAS: the Kconfig choice.  Both live in Debian's multiarch folders under
# fixed names, whatever the libblas.so alternative points at.
if(CONFIG_OSA_BLAS_OPENBLAS STREQUAL "y")
  find_path(OSA_CBLAS_INCLUDE cblas.h
    PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-pthread
    NO_DEFAULT_PATH)
  if(OSA_STATIC)
    set(_osa_blas_names libopenblas.a)
  else()
    set(_osa_blas_names openblas)
  endif()
  find_library(OSA_BLAS_LIBRARY NAMES ${_osa_blas_names}
    PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-pthread
    NO_DEFAULT_PATH)
  set(_osa_blas_pkg libopenblas-dev)
elseif(CONFIG_OSA_BLAS_REFERENCE STREQUAL "y")
  find_path(OSA_CBLAS_INCLUDE cblas-netlib.h
    PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
  if(OSA_STATIC)
    set(_osa_blas_names libblas.a)
  else()
    set(_osa_blas_names libblas.so.3 blas)
  endif()
  find_library(OSA_BLAS_LIBRARY NAMES ${_osa_blas_names}
    PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/blas NO_DEFAULT_PATH)
  set(_osa_blas_pkg libblas-dev)
endif()
if(_osa_blas_pkg)
  if(NOT OSA_CBLAS_INCLUDE OR NOT OSA_BLAS_LIBRARY)
    message(FATAL_ERROR "BLAS (${_osa_blas_pkg}) not found: ${OSA_DEPS_HINT}")
  endif()
  add_library(osa::blas UNKNOWN IMPORTED GLOBAL)
  set_target_properties(osa::blas PROPERTIES
    IMPORTED_LOCATION "${OSA_BLAS_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${OSA_CBLAS_INCLUDE}"
    INTERFACE_LINK_LIBRARIES "Threads::Threads;m")
  if(CONFIG_OSA_BLAS_OPENBLAS STREQUAL "y" AND OSA_STATIC)
    # OpenBLAS's static archive carries Fortran (LAPACK) objects.
    find_library(OSA_GFORTRAN_LIBRARY NAMES libgfortran.a
      HINTS /usr/lib/gcc/${CMAKE_LIBRARY_ARCHITECTURE}/${CMAKE_C_COMPILER_VERSION_MAJOR}
            /usr/lib/gcc/${CMAKE_LIBRARY_ARCHITECTURE}/12)
    if(OSA_GFORTRAN_LIBRARY)
      set_property(TARGET osa::blas APPEND PROPERTY INTERFACE_LINK_LIBRARIES
        ${OSA_GFORTRAN_LIBRARY})
    endif()
  endif()
endif()
