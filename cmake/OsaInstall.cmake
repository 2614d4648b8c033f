# SPDX-License-Identifier: MIT
#
# OsaInstall.cmake - `cmake --install` installs:
#   bin/osa                              the static binary
#   include/osa/*.h, include/osa/osa_autoconf.h
#   lib/libosa.a                         the engine (C API of osa/osa.h)
#   lib/libosa_<kind>_<name>.a, lib/libhnswlib_c.a   the selected plugins
#   lib/cmake/osa/                       osaConfig.cmake: the plugin SDK
#                                        (osa::sdk, osa_add_backend) and
#                                        osa::osa, the library with every
#                                        plugin linked whole
#   lib/pkgconfig/osa.pc                 Cflags, Libs, Libs.private
# Included once from the top-level CMakeLists.txt after the plugins exist.

include_guard(GLOBAL)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(DIRECTORY ${OSA_SOURCE_DIR}/core/include/osa
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(FILES ${OSA_BINARY_DIR}/generated/osa/osa_autoconf.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/osa COMPONENT dev)

# The plugins built here (installed plugin packages are imported: they stay
# where they are).
get_property(_osa_plugin_targets GLOBAL PROPERTY OSA_PLUGIN_TARGETS)
set(_osa_inst_plugins "")
foreach(_t IN LISTS _osa_plugin_targets)
  get_target_property(_imp ${_t} IMPORTED)
  if(NOT _imp)
    string(REGEX REPLACE "^osa_" "" _en "${_t}")
    set_target_properties(${_t} PROPERTIES EXPORT_NAME ${_en})
    list(APPEND _osa_inst_plugins ${_t})
  endif()
endforeach()
set(_osa_inst_extra "")
foreach(_t hnswlib_c hnswlib_c_kernels osa_conformance)
  if(TARGET ${_t})
    list(APPEND _osa_inst_extra ${_t})
  endif()
endforeach()
install(TARGETS osa_sdk osa_core ${_osa_inst_plugins} ${_osa_inst_extra}
  EXPORT osaTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(EXPORT osaTargets NAMESPACE osa::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/osa COMPONENT dev)

# osa::osa is written in osaConfig.cmake, not exported: install(EXPORT) does
# not namespace names inside $<LINK_LIBRARY:...> (BUILD-NOTES.md).
set(_osa_whole "")
set(_osa_pc_whole "")
foreach(_t IN LISTS _osa_inst_plugins)
  get_target_property(_en ${_t} EXPORT_NAME)
  list(APPEND _osa_whole "osa::${_en}")
  get_target_property(_on ${_t} OUTPUT_NAME)
  if(NOT _on)
    set(_on ${_t})
  endif()
  string(APPEND _osa_pc_whole " -l${_on}")
endforeach()
string(REPLACE ";" "," OSA_CONFIG_WHOLE "${_osa_whole}")

# Libs.private: every library the archives need, walked from the targets'
# link interfaces (imported targets give their files).
set(_osa_pc_seen "")
set(OSA_PC_PRIVATE "")
function(osa_pc_walk item)
  get_property(seen GLOBAL PROPERTY OSA_PC_SEEN)
  if("${item}" IN_LIST seen OR "${item}" MATCHES "^\\$<")
    return()
  endif()
  set_property(GLOBAL APPEND PROPERTY OSA_PC_SEEN "${item}")
  if(TARGET ${item})
    get_target_property(al ${item} ALIASED_TARGET)
    if(al)
      osa_pc_walk(${al})
      return()
    endif()
    if(item STREQUAL "Threads::Threads")
      set_property(GLOBAL APPEND PROPERTY OSA_PC_LIBS "-pthread")
      return()
    endif()
    get_target_property(type ${item} TYPE)
    get_target_property(imp ${item} IMPORTED)
    if(imp AND NOT type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(loc ${item} IMPORTED_LOCATION)
      if(loc)
        set_property(GLOBAL APPEND PROPERTY OSA_PC_LIBS "${loc}")
      endif()
    endif()
    set(links "")
    get_target_property(il ${item} INTERFACE_LINK_LIBRARIES)
    if(il)
      list(APPEND links ${il})
    endif()
    if(NOT imp AND NOT type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(ll ${item} LINK_LIBRARIES)
      if(ll)
        list(APPEND links ${ll})
      endif()
    endif()
    foreach(l IN LISTS links)
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" l "${l}")
      osa_pc_walk("${l}")
    endforeach()
  elseif(IS_ABSOLUTE "${item}")
    set_property(GLOBAL APPEND PROPERTY OSA_PC_LIBS "${item}")
  elseif(NOT "${item}" MATCHES "^-")
    set_property(GLOBAL APPEND PROPERTY OSA_PC_LIBS "-l${item}")
  else()
    set_property(GLOBAL APPEND PROPERTY OSA_PC_LIBS "${item}")
  endif()
endfunction()
foreach(_t IN LISTS _osa_inst_plugins _osa_inst_extra)
  osa_pc_walk(${_t})
endforeach()
osa_pc_walk(osa_core)
get_property(_osa_pc_libs GLOBAL PROPERTY OSA_PC_LIBS)
set(_osa_pc_priv "")
if(TARGET hnswlib_c)
  string(APPEND _osa_pc_priv " -lhnswlib_c")
endif()
if(TARGET hnswlib_c_kernels)
  string(APPEND _osa_pc_priv " -lhnswlib_c_kernels")
endif()
foreach(_l IN LISTS _osa_pc_libs)
  string(APPEND _osa_pc_priv " ${_l}")
endforeach()
string(APPEND _osa_pc_priv " -lm")
if(OSA_STATIC)
  # Debian's static archives (OpenBLAS's among them) are not all built
  # position-independent.
  string(APPEND _osa_pc_priv " -no-pie")
endif()
set(OSA_PC_LIBS "-L\${libdir} -Wl,--whole-archive${_osa_pc_whole} -Wl,--no-whole-archive -losa")
set(OSA_PC_LIBS_PRIVATE "${_osa_pc_priv}")

# The Kconfig values OsaDeps.cmake reads, as this build had them.
set(OSA_CONFIG_VARS "")
get_cmake_property(_osa_vars VARIABLES)
foreach(_v IN LISTS _osa_vars)
  if(_v MATCHES "^CONFIG_OSA_[A-Z0-9_]+$")
    string(APPEND OSA_CONFIG_VARS "  set(${_v} \"${${_v}}\")\n")
  endif()
endforeach()

configure_package_config_file(${OSA_SOURCE_DIR}/cmake/osaConfig.cmake.in
  ${OSA_BINARY_DIR}/osaConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/osa)
write_basic_package_version_file(${OSA_BINARY_DIR}/osaConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${OSA_BINARY_DIR}/osaConfig.cmake
  ${OSA_BINARY_DIR}/osaConfigVersion.cmake ${OSA_SOURCE_DIR}/cmake/OsaPlugin.cmake
  ${OSA_SOURCE_DIR}/cmake/OsaDeps.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/osa COMPONENT dev)
configure_file(${OSA_SOURCE_DIR}/cmake/osa.pc.in ${OSA_BINARY_DIR}/osa.pc @ONLY)
install(FILES ${OSA_BINARY_DIR}/osa.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
