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

# A plugin project built on its own (find_package(osa) then osa_add_backend)
# gets an optimised build unless it asks for another build type.
if(NOT TARGET osa_core AND PROJECT_IS_TOP_LEVEL AND NOT CMAKE_BUILD_TYPE
   AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING
    "Build type (osa_add_backend's default: Release)" FORCE)
endif()
# ...and ctest runs its TESTS and conformance test (BUILD_TESTING=OFF: not
# built).  enable_testing() must run at directory scope, hence here.
if(NOT TARGET osa_core AND PROJECT_IS_TOP_LEVEL AND
   (BUILD_TESTING OR NOT DEFINED BUILD_TESTING))
  enable_testing()
endif()

# The OSA tree's warning flags (OSA_WARNING_FLAGS, with -Werror when
# OSA_WERROR) on every compiled target of folder DIR and its subfolders that
# belongs to this tree: not on plugin packages from elsewhere, which keep
# their own flags.  Called once, at the end of the top-level CMakeLists.txt.
function(osa_strict_warnings dir)
  get_directory_property(src DIRECTORY ${dir} SOURCE_DIR)
  cmake_path(IS_PREFIX OSA_SOURCE_DIR "${src}" NORMALIZE ours)
  if(ours)
    file(RELATIVE_PATH rel ${OSA_SOURCE_DIR} ${src})
    if(rel MATCHES "^external/([^/]+)" AND
       NOT CMAKE_MATCH_1 IN_LIST OSA_STRICT_EXTERNAL)
      set(ours FALSE)
    endif()
  endif()
  if(ours)
    get_directory_property(targets DIRECTORY ${dir} BUILDSYSTEM_TARGETS)
    foreach(t IN LISTS targets)
      get_target_property(type ${t} TYPE)
      if(type MATCHES "^(STATIC_LIBRARY|SHARED_LIBRARY|MODULE_LIBRARY|OBJECT_LIBRARY|EXECUTABLE)$")
        target_compile_options(${t} PRIVATE ${OSA_WARNING_FLAGS})
      endif()
    endforeach()
  endif()
  get_directory_property(subs DIRECTORY ${dir} SUBDIRECTORIES)
  foreach(s IN LISTS subs)
    osa_strict_warnings(${s})
  endforeach()
endfunction()

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
    add_subdirectory("${dir}" "${OSA_BINARY_DIR}/plugins/${name}")
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

  set_property(GLOBAL PROPERTY OSA_PLUGIN_LIB_${P_NAME} ${lib})
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
    # Standalone: the package's TESTS run against the installed core with
    # this plugin linked whole (BUILD_TESTING=OFF skips them).
    if(BUILD_TESTING OR NOT DEFINED BUILD_TESTING)
      foreach(t IN LISTS P_TESTS)
        get_filename_component(stem "${t}" NAME_WE)
        set(exe test_${id}_${stem})
        add_executable(${exe} ${t})
        target_link_libraries(${exe} PRIVATE
          "$<LINK_LIBRARY:WHOLE_ARCHIVE,${lib}>" osa::core)
        add_test(NAME osa.${P_NAME}.${stem} COMMAND ${exe})
        set_tests_properties(osa.${P_NAME}.${stem} PROPERTIES
          LABELS unit TIMEOUT 300)
      endforeach()
    endif()
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

# The backend conformance suite (tests/conformance/conformance.c) against
# backend NAME, as ctest test osa.<NAME>.conformance:
#
#   osa_add_backend_conformance_test(NAME <backend>
#       [CONFIG <text>]          # its `config` group (osa.cfg syntax)
#       [QUERY text|vector]      # how the suite queries it (default text)
#       [DIM <n>]                # vector dimension for QUERY vector
#       [BAD <json record>])     # a record it must refuse (all-or-nothing)
#
# Call it after osa_add_backend() in the package's CMakeLists.txt: inside an
# OSA build (tests enabled) it links the suite with every selected plugin;
# in a standalone package it links the installed osa::conformance and
# osa::core with this package's backend.
function(osa_add_backend_conformance_test)
  # PARSE_ARGV keeps the semicolons of osa.cfg text.
  cmake_parse_arguments(PARSE_ARGV 0 C "" "NAME;CONFIG;QUERY;DIM;BAD" "")
  if(NOT C_NAME)
    message(FATAL_ERROR "osa_add_backend_conformance_test: NAME is required")
  endif()
  if(NOT C_QUERY)
    set(C_QUERY text)
  endif()
  if(NOT C_DIM)
    set(C_DIM 0)
  endif()
  string(REPLACE "-" "_" id "${C_NAME}")
  set(exe test_${id}_conformance)
  set(main ${CMAKE_CURRENT_BINARY_DIR}/osa_conformance_main.c)
  file(WRITE ${main} "/* Generated by osa_add_backend_conformance_test(). */
int osa_conformance_main(int argc, char **argv);
int main(int argc, char **argv)
{
	return osa_conformance_main(argc, argv);
}
")
  if(TARGET osa_core)
    if(NOT OSA_BUILD_TESTS)
      return()
    endif()
    add_executable(${exe} ${main})
    target_link_libraries(${exe} PRIVATE osa_conformance
      osa_core_with_plugins)
  else()
    if(DEFINED BUILD_TESTING AND NOT BUILD_TESTING)
      return()
    endif()
    if(NOT TARGET osa::conformance)
      message(WARNING
        "osa_add_backend_conformance_test(${C_NAME}): not added: this OSA "
        "SDK has no osa::conformance (it was installed from a build "
        "without CONFIG_OSA_BUILD_TESTS)")
      return()
    endif()
    get_property(lib GLOBAL PROPERTY OSA_PLUGIN_LIB_${C_NAME})
    if(NOT lib)
      message(FATAL_ERROR "osa_add_backend_conformance_test: no backend "
        "\"${C_NAME}\" in this project: call osa_add_backend(NAME ${C_NAME} ...) "
        "first")
    endif()
    add_executable(${exe} ${main})
    target_link_libraries(${exe} PRIVATE osa::conformance
      "$<LINK_LIBRARY:WHOLE_ARCHIVE,${lib}>" osa::core)
  endif()
  # The config and the bad record go through files: ctest command lines are
  # CMake lists, which would split osa.cfg text at its semicolons.
  set(cfg ${CMAKE_CURRENT_BINARY_DIR}/${C_NAME}.conformance.cfg)
  set(bad ${CMAKE_CURRENT_BINARY_DIR}/${C_NAME}.conformance.bad)
  file(WRITE ${cfg} "${C_CONFIG}")
  file(WRITE ${bad} "${C_BAD}")
  add_test(NAME osa.${C_NAME}.conformance COMMAND ${exe}
    --backend ${C_NAME} --config-file ${cfg} --query ${C_QUERY}
    --dim ${C_DIM} --bad-file ${bad})
  set_tests_properties(osa.${C_NAME}.conformance PROPERTIES
    LABELS unit TIMEOUT 300)
endfunction()
