# SPDX-License-Identifier: MIT
#
# OsaPlugin.cmake - osa_add_backend() / osa_add_embedder(): a plugin package
# in about ten lines.
#
#   osa_add_backend(NAME <name>
#                   SOURCES <files...>
#                   [DEPENDS <find_package names...>]   # found CONFIG, recorded
#                   [LIBRARIES <targets or libs...>]
#                   [TESTS <test .c files...>])
#   osa_add_embedder(...same keywords...)
#
# Inside the OSA source build (the package's *Config.cmake called
# osa_plugin_package()), it builds the static library osa_<kind>_<name>,
# links it whole into `osa` (so its linker-set entry survives --gc-sections and
# LTO), and registers each test as ctest `osa.<name>.<stem>` (label unit).
#
# In a standalone plugin project (find_package(osa) then osa_add_backend), it
# builds the same library and installs it with a generated
# Osa<Kind><Name>Config.cmake and the project's Kconfig, so an OSA build given
# that prefix in CMAKE_PREFIX_PATH offers it in menuconfig and links it.

include_guard(GLOBAL)

# Name of the package of plugin NAME of KIND: OsaBackendFoo, OsaEmbedderBar.
function(osa_plugin_package_name kind name out)
  string(REPLACE "-" "_" n "${name}")
  string(REPLACE "_" ";" parts "${n}")
  set(camel "")
  foreach(p IN LISTS parts)
    string(SUBSTRING "${p}" 0 1 h)
    string(SUBSTRING "${p}" 1 -1 t)
    string(TOUPPER "${h}" h)
    string(APPEND camel "${h}${t}")
  endforeach()
  if(kind STREQUAL "backend")
    set(${out} "OsaBackend${camel}" PARENT_SCOPE)
  else()
    set(${out} "OsaEmbedder${camel}" PARENT_SCOPE)
  endif()
endfunction()

# Called by a source package's Config file: build the folder into this tree.
macro(osa_plugin_package name dir)
  if(NOT TARGET osa_core)
    message(FATAL_ERROR
      "${dir}: this plugin package builds inside an OSA source tree; "
      "to build it on its own, configure its folder as a project "
      "(see docs/backend-guide.md)")
  endif()
  get_property(_osa_pp GLOBAL PROPERTY OSA_PLUGIN_PACKAGE_DIRS)
  if(NOT "${dir}" IN_LIST _osa_pp)
    set_property(GLOBAL APPEND PROPERTY OSA_PLUGIN_PACKAGE_DIRS "${dir}")
    add_subdirectory("${dir}" "${CMAKE_BINARY_DIR}/plugins/${name}")
  endif()
endmacro()

# Link plugin library TARGET (of KIND, NAME) whole into the OSA build.
function(osa_register_plugin kind name target)
  get_property(seen GLOBAL PROPERTY OSA_PLUGIN_NAMES)
  if("${kind}:${name}" IN_LIST seen)
    message(FATAL_ERROR
      "${kind} \"${name}\" is provided by two packages; keep one "
      "(OSA_EXTERNAL_BACKENDS, external/ and CMAKE_PREFIX_PATH are all "
      "searched)")
  endif()
  set_property(GLOBAL APPEND PROPERTY OSA_PLUGIN_NAMES "${kind}:${name}")
  set_property(GLOBAL APPEND PROPERTY OSA_PLUGIN_TARGETS "${target}")
  target_link_libraries(osa_plugins INTERFACE
    "$<LINK_LIBRARY:WHOLE_ARCHIVE,${target}>")
endfunction()

function(osa_add_plugin kind)
  cmake_parse_arguments(P "" "NAME" "SOURCES;DEPENDS;LIBRARIES;TESTS" ${ARGN})
  if(NOT P_NAME OR NOT P_SOURCES)
    message(FATAL_ERROR "osa_add_${kind}: NAME and SOURCES are required")
  endif()
  if(NOT P_NAME MATCHES "^[a-z0-9][a-z0-9_-]*$")
    message(FATAL_ERROR "osa_add_${kind}: NAME \"${P_NAME}\" must match [a-z0-9][a-z0-9_-]*")
  endif()
  string(REPLACE "-" "_" id "${P_NAME}")
  set(lib osa_${kind}_${id})
  foreach(dep IN LISTS P_DEPENDS)
    find_package(${dep} CONFIG REQUIRED HINTS ${OSA_PACKAGE_HINTS})
  endforeach()
  add_library(${lib} STATIC ${P_SOURCES})
  target_link_libraries(${lib} PUBLIC osa::sdk ${P_LIBRARIES})
  set_target_properties(${lib} PROPERTIES OSA_PLUGIN_DEPENDS "${P_DEPENDS}")

  if(TARGET osa_core)
    # Inside the OSA build.
    osa_register_plugin(${kind} ${P_NAME} ${lib})
    if(OSA_BUILD_TESTS)
      foreach(t IN LISTS P_TESTS)
        get_filename_component(stem "${t}" NAME_WE)
        set(exe test_${id}_${stem})
        add_executable(${exe} ${t})
        target_include_directories(${exe} PRIVATE ${OSA_SOURCE_DIR}/tests)
        target_link_libraries(${exe} PRIVATE osa_core_with_plugins)
        add_test(NAME osa.${P_NAME}.${stem} COMMAND ${exe})
        math(EXPR _t "300 * ${OSA_TEST_TIMEOUT_SCALE}")
        set_tests_properties(osa.${P_NAME}.${stem} PROPERTIES
          LABELS unit TIMEOUT ${_t})
      endforeach()
    endif()
  else()
    # A standalone plugin project: install the library and a package.
    include(GNUInstallDirs)
    osa_plugin_package_name(${kind} ${P_NAME} pkg)
    install(TARGETS ${lib} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/Kconfig)
      install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/Kconfig
        DESTINATION ${CMAKE_INSTALL_DATADIR}/osa/plugins/${P_NAME})
    endif()
    set(deps "")
    foreach(dep IN LISTS P_DEPENDS)
      string(APPEND deps "find_dependency(${dep})\n")
    endforeach()
    set(libs "")
    foreach(l IN LISTS P_LIBRARIES)
      if(NOT TARGET ${l} OR l MATCHES "::")
        list(APPEND libs "${l}")
      endif()
    endforeach()
    file(GENERATE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/${pkg}Config.cmake
      CONTENT "# Generated by osa_add_${kind}(); do not edit.
include_guard(GLOBAL)
include(CMakeFindDependencyMacro)
${deps}get_filename_component(_osa_prefix \"\${CMAKE_CURRENT_LIST_DIR}/../../..\" ABSOLUTE)
if(NOT TARGET ${lib})
  add_library(${lib} STATIC IMPORTED)
  set_target_properties(${lib} PROPERTIES
    IMPORTED_LOCATION \"\${_osa_prefix}/${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:${lib}>\"
    INTERFACE_LINK_LIBRARIES \"${libs}\")
endif()
if(COMMAND osa_register_plugin)
  osa_register_plugin(${kind} ${P_NAME} ${lib})
endif()
")
    install(FILES ${CMAKE_CURRENT_BINARY_DIR}/${pkg}Config.cmake
      DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/${pkg})
  endif()
endfunction()

function(osa_add_backend)
  osa_add_plugin(backend ${ARGN})
endfunction()

function(osa_add_embedder)
  osa_add_plugin(embedder ${ARGN})
endfunction()
