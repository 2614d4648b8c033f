# SPDX-License-Identifier: MIT
#
# OsaKconfig.cmake - Kconfig is the single source of truth of the build.
#
# osa_kconfig() makes sure ${OSA_BINARY_DIR}/.config exists and is complete
# (from OSA_DEFCONFIG when there is none yet or OSA_DEFCONFIG changed, else
# `kconfig-conf --olddefconfig` so new symbols get their defaults), then turns
# it into:
#   - CMake variables CONFIG_<SYM> (y/n for bools, values for others) in the
#     caller's scope, and OSA_SELECTED_PACKAGES (every *_PACKAGE string);
#   - the C header ${OSA_BINARY_DIR}/generated/osa/osa_autoconf.h, rewritten only
#     when it changes so nothing recompiles needlessly;
#   - OSA_ABSENT_PLUGINS: "kind:name:SYMBOL:folder" of plugins the build sees
#     (kconfig --allyesconfig lists them) that this .config does not select;
#   - ${OSA_KCONFIG_GEN}/run, which runs a kconfig front end on this .config
#     with the same plugin menus, and the `menuconfig` target using it.
# .config, the defconfig and every Kconfig file reconfigure the build when
# they change.

include_guard(GLOBAL)
include(${CMAKE_CURRENT_LIST_DIR}/OsaKconfigGen.cmake)

set(OSA_DEFCONFIG "configs/defconfig" CACHE STRING
  "Kconfig defconfig to start from (relative to OSA's source dir, or absolute)")
# A product that vendors OSA and has its own Kconfig tree points these at its
# top Kconfig (which `source`s OSA's Kconfig.osa) and its source tree; the
# default is OSA's own top-level Kconfig.
set(OSA_KCONFIG "" CACHE STRING
  "Top-level Kconfig file (default: OSA's own); a product's may source OSA's Kconfig.osa")
set(OSA_KCONFIG_SRCTREE "" CACHE STRING
  "srctree for relative Kconfig paths (default: the folder of OSA_KCONFIG)")

function(osa_kconfig_run)
  set(env
    "KCONFIG_CONFIG=${OSA_DOTCONFIG}"
    "srctree=${OSA_KCONFIG_SRCTREE_}"
    "OSA_KCONFIG_GEN=${OSA_KCONFIG_GEN}"
    "OSA_SRCTREE=${OSA_SOURCE_DIR}")
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E env ${env} ${OSA_KCONFIG_CONF} ${ARGN}
            ${OSA_KCONFIG_}
    WORKING_DIRECTORY ${OSA_KCONFIG_SRCTREE_}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "kconfig-conf ${ARGN} failed:\n${out}")
  endif()
endfunction()

macro(osa_kconfig)
  find_program(OSA_KCONFIG_CONF NAMES kconfig-conf conf)
  if(NOT OSA_KCONFIG_CONF)
    message(FATAL_ERROR
      "kconfig-conf not found: install Debian's kconfig-frontends-nox "
      "(scripts/install-deps does it)")
  endif()
  set(OSA_KCONFIG_GEN ${OSA_BINARY_DIR}/kconfig)
  set(OSA_DOTCONFIG ${OSA_BINARY_DIR}/.config)
  if(OSA_KCONFIG)
    get_filename_component(OSA_KCONFIG_ "${OSA_KCONFIG}" ABSOLUTE
      BASE_DIR ${CMAKE_SOURCE_DIR})
  else()
    set(OSA_KCONFIG_ ${OSA_SOURCE_DIR}/Kconfig)
  endif()
  if(OSA_KCONFIG_SRCTREE)
    get_filename_component(OSA_KCONFIG_SRCTREE_ "${OSA_KCONFIG_SRCTREE}"
      ABSOLUTE BASE_DIR ${CMAKE_SOURCE_DIR})
  else()
    get_filename_component(OSA_KCONFIG_SRCTREE_ "${OSA_KCONFIG_}" DIRECTORY)
  endif()
  osa_kconfig_generate(${OSA_SOURCE_DIR} ${OSA_KCONFIG_GEN})

  get_filename_component(_osa_defconfig "${OSA_DEFCONFIG}" ABSOLUTE
    BASE_DIR ${OSA_SOURCE_DIR})
  if(NOT EXISTS "${_osa_defconfig}")
    file(GLOB _osa_known RELATIVE ${OSA_SOURCE_DIR}/configs
      ${OSA_SOURCE_DIR}/configs/*defconfig)
    message(FATAL_ERROR "OSA_DEFCONFIG: ${_osa_defconfig} does not exist; "
      "configs/ has: ${_osa_known}")
  endif()
  if(NOT EXISTS ${OSA_DOTCONFIG} OR
     NOT "${_osa_defconfig}" STREQUAL "${OSA_DEFCONFIG_APPLIED}")
    message(STATUS "Kconfig: .config from ${OSA_DEFCONFIG}")
    osa_kconfig_run(--defconfig=${_osa_defconfig})
    set(OSA_DEFCONFIG_APPLIED "${_osa_defconfig}" CACHE INTERNAL "")
  else()
    osa_kconfig_run(--olddefconfig)
  endif()

  # Parse .config into CMake variables.
  file(STRINGS ${OSA_DOTCONFIG} _osa_lines)
  set(OSA_SELECTED_PACKAGES "")
  set(_osa_set_syms "")
  foreach(_l IN LISTS _osa_lines)
    if(_l MATCHES "^CONFIG_([A-Za-z0-9_]+)=(.*)$")
      set(_k "${CMAKE_MATCH_1}")
      set(_v "${CMAKE_MATCH_2}")
      if(_v STREQUAL "y")
        set(CONFIG_${_k} y)
        list(APPEND _osa_set_syms ${_k})
      elseif(_v MATCHES "^\"(.*)\"$")
        set(CONFIG_${_k} "${CMAKE_MATCH_1}")
        if(_k MATCHES "_PACKAGE$" AND NOT "${CONFIG_${_k}}" STREQUAL "")
          list(APPEND OSA_SELECTED_PACKAGES "${CONFIG_${_k}}")
        endif()
      else()
        set(CONFIG_${_k} "${_v}")
      endif()
    elseif(_l MATCHES "^# CONFIG_([A-Za-z0-9_]+) is not set$")
      set(CONFIG_${CMAKE_MATCH_1} n)
    endif()
  endforeach()

  # The C header, written by kconfig itself (KCONFIG_AUTOHEADER of
  # --silentoldconfig, which wants include/config/ in its working folder),
  # then copied only when it changed so nothing recompiles needlessly.
  set(_osa_kwork ${OSA_BINARY_DIR}/kconfig/work)
  file(MAKE_DIRECTORY ${_osa_kwork}/include/config ${OSA_BINARY_DIR}/generated/osa)
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E env
            "KCONFIG_CONFIG=${OSA_DOTCONFIG}"
            "srctree=${OSA_KCONFIG_SRCTREE_}"
            "OSA_KCONFIG_GEN=${OSA_KCONFIG_GEN}"
            "OSA_SRCTREE=${OSA_SOURCE_DIR}"
            "KCONFIG_AUTOHEADER=${_osa_kwork}/osa_autoconf.h"
            "KCONFIG_AUTOCONFIG=${_osa_kwork}/include/config/auto.conf"
            ${OSA_KCONFIG_CONF} --silentoldconfig ${OSA_KCONFIG_}
    WORKING_DIRECTORY ${_osa_kwork}
    RESULT_VARIABLE _osa_rc OUTPUT_VARIABLE _osa_out ERROR_VARIABLE _osa_out)
  if(NOT _osa_rc EQUAL 0)
    message(FATAL_ERROR "kconfig-conf --silentoldconfig failed:\n${_osa_out}")
  endif()
  file(READ ${_osa_kwork}/osa_autoconf.h _osa_hdr)
  osa_write_if_changed(${OSA_BINARY_DIR}/generated/osa/osa_autoconf.h
    "#ifndef OSA_AUTOCONF_H\n#define OSA_AUTOCONF_H\n${_osa_hdr}#endif\n")

  # Plugins the build can see but .config does not select, from kconfig
  # itself: an --allyesconfig run into a scratch file gives every plugin's
  # *_PACKAGE symbol (the plugin's own symbol is that name without
  # _PACKAGE, by the package convention of docs/backend-guide.md).
  set(OSA_ABSENT_PLUGINS "")
  set(_osa_all ${OSA_KCONFIG_GEN}/allyes.config)
  set(_osa_saved_dotconfig ${OSA_DOTCONFIG})
  set(OSA_DOTCONFIG ${_osa_all})
  osa_kconfig_run(--allyesconfig)
  set(OSA_DOTCONFIG ${_osa_saved_dotconfig})
  file(STRINGS ${_osa_all} _osa_pkgs REGEX "^CONFIG_[A-Za-z0-9_]+_PACKAGE=")
  foreach(_l IN LISTS _osa_pkgs)
    if(NOT _l MATCHES "^CONFIG_(OSA_(BACKEND|EMBEDDER)_([A-Z0-9_]+))_PACKAGE=\"(.*)\"$")
      continue()
    endif()
    set(_sym ${CMAKE_MATCH_1})
    string(TOLOWER "${CMAKE_MATCH_2}" _kind)
    string(TOLOWER "${CMAKE_MATCH_3}" _name)
    set(_pkg "${CMAKE_MATCH_4}")
    if("${_sym}" IN_LIST _osa_set_syms)
      continue()
    endif()
    # Where it was found: the folder holding <Package>Config.cmake, or an
    # installed package's share/osa/plugins/<name>.
    set(_where "")
    foreach(_d IN LISTS OSA_PLUGIN_DIRS_BACKENDS OSA_PLUGIN_DIRS_EMBEDDERS
                        OSA_PLUGIN_DIRS_EXTERNAL)
      get_filename_component(_base "${_d}" NAME)
      string(REPLACE "-" "_" _base "${_base}")
      if(EXISTS "${_d}/${_pkg}Config.cmake" OR
         (_d MATCHES "/share/osa/plugins/" AND _base STREQUAL _name))
        set(_where "${_d}")
        break()
      endif()
    endforeach()
    list(APPEND OSA_ABSENT_PLUGINS "${_kind}:${_name}:${_sym}:${_where}")
  endforeach()

  # The Kconfig files to watch.
  set(_osa_watch ${OSA_DOTCONFIG} ${_osa_defconfig} ${OSA_KCONFIG_}
    ${OSA_SOURCE_DIR}/Kconfig.osa)
  foreach(_d IN LISTS OSA_PLUGIN_DIRS_BACKENDS OSA_PLUGIN_DIRS_EMBEDDERS
                      OSA_PLUGIN_DIRS_EXTERNAL)
    list(APPEND _osa_watch ${_d}/Kconfig)
  endforeach()

  # One way to run kconfig on this build, with the plugin menus generated
  # from the same inputs as this configure (external/, OSA_EXTERNAL_BACKENDS,
  # CMAKE_PREFIX_PATH): `make menuconfig`, the `menuconfig` target and
  # scripts use ${OSA_KCONFIG_GEN}/run <kconfig front end> [args].
  string(REPLACE ";" "\\;" _osa_eb "${OSA_EXTERNAL_BACKENDS}")
  string(REPLACE ";" "\\;" _osa_pp "${CMAKE_PREFIX_PATH}")
  osa_write_if_changed(${OSA_KCONFIG_GEN}/run "#!/bin/sh
# Generated by cmake/OsaKconfig.cmake; do not edit.  Runs a kconfig front
# end (kconfig-mconf, kconfig-conf --olddefconfig, ...) on this build's
# .config with the plugin menus this build sees.
set -e
'${CMAKE_COMMAND}' '-DOSA_SOURCE_DIR=${OSA_SOURCE_DIR}' \
  '-DOSA_GEN_DIR=${OSA_KCONFIG_GEN}' \
  '-DOSA_EXTERNAL_BACKENDS=${_osa_eb}' '-DCMAKE_PREFIX_PATH=${_osa_pp}' \
  -P '${OSA_SOURCE_DIR}/cmake/OsaKconfigGen.cmake'
cd '${OSA_KCONFIG_SRCTREE_}'
front=\$1
shift
exec env 'KCONFIG_CONFIG=${OSA_DOTCONFIG}' 'srctree=${OSA_KCONFIG_SRCTREE_}' \
  'OSA_KCONFIG_GEN=${OSA_KCONFIG_GEN}' 'OSA_SRCTREE=${OSA_SOURCE_DIR}' \
  \"\$front\" \"\$@\" '${OSA_KCONFIG_}'
")
  file(CHMOD ${OSA_KCONFIG_GEN}/run PERMISSIONS OWNER_READ OWNER_WRITE
    OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  if(NOT TARGET menuconfig)
    find_program(OSA_KCONFIG_MCONF NAMES kconfig-mconf mconf)
    add_custom_target(menuconfig
      COMMAND ${OSA_KCONFIG_GEN}/run ${OSA_KCONFIG_MCONF}
      USES_TERMINAL
      COMMENT "menuconfig: the plugins this build sees; save, then build")
  endif()
  set_property(DIRECTORY ${OSA_SOURCE_DIR} APPEND PROPERTY
    CMAKE_CONFIGURE_DEPENDS ${_osa_watch})
endmacro()
