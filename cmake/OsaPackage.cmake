# SPDX-License-Identifier: MIT
#
# OsaPackage.cmake (OSA_PACKAGE=ON; `make deb`): the Debian package of the
# server, built with CPack:
#   /usr/bin/osa                                  the static binary
#   /etc/osa/osa.cfg                              conffile: the built-in default
#                                                 with data in /var/lib/osa
#   /usr/lib/systemd/system/osa.service           Type=notify, DynamicUser
#   /usr/share/man/man1/osa.1.gz                  help2man from `osa --help`
#   /usr/share/man/man5/osa.cfg.5.gz              `osa config schema --format man`
#   /usr/share/bash-completion/completions/osa
# The man pages are generated from the binary at build time, from the same
# tables as --help and the config validator, so they cannot drift.  The
# library, headers and SDK (component `dev`) are what `cmake --install`
# adds; the package carries the server only.

include_guard(GLOBAL)
include(GNUInstallDirs)

find_program(OSA_HELP2MAN help2man)
if(NOT OSA_HELP2MAN)
  message(FATAL_ERROR "OSA_PACKAGE: help2man not found (Debian's help2man): "
    "${OSA_DEPS_HINT}")
endif()

set(_man ${OSA_BINARY_DIR}/man)
add_custom_command(
  OUTPUT ${_man}/osa.1.gz ${_man}/osa.cfg.5.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${_man}
  COMMAND ${OSA_HELP2MAN} --no-info --section=1
          --name=keep\ named\ search\ indexes\ over\ JSON\ records
          --include=${OSA_SOURCE_DIR}/packaging/osa.1.h2m
          --output=${_man}/osa.1 $<TARGET_FILE:osa>
  COMMAND $<TARGET_FILE:osa> config schema --format man > ${_man}/osa.cfg.5
  COMMAND gzip -9nf ${_man}/osa.1 ${_man}/osa.cfg.5
  DEPENDS osa ${OSA_SOURCE_DIR}/packaging/osa.1.h2m
  COMMENT "Generating osa(1) and osa.cfg(5)")
add_custom_target(osa-man ALL DEPENDS ${_man}/osa.1.gz ${_man}/osa.cfg.5.gz)

# /etc/osa/osa.cfg: the built-in default, with the service's paths.
file(READ ${OSA_SOURCE_DIR}/configs/examples/default.cfg _cfg)
string(REPLACE "data_dir = \"./data\";" "data_dir = \"/var/lib/osa\";"
  _cfg "${_cfg}")
string(REGEX REPLACE "nng = \"\";[^\n]*" "nng = \"ipc:///run/osa/osa.sock\";"
  _cfg "${_cfg}")
string(REPLACE "# OSA Index - the built-in default runtime configuration."
  "# OSA Index - the packaged service's configuration (osa.cfg(5)).\n# After editing: `osa -c /etc/osa/osa.cfg config check`, then\n# `systemctl reload osa` (logging, api_key) or `systemctl restart osa`."
  _cfg "${_cfg}")
osa_write_if_changed(${OSA_BINARY_DIR}/packaging/osa.cfg "${_cfg}")

install(FILES ${OSA_BINARY_DIR}/packaging/osa.cfg DESTINATION /etc/osa
  COMPONENT runtime)
install(FILES ${OSA_SOURCE_DIR}/packaging/osa.service
  DESTINATION lib/systemd/system COMPONENT runtime)
install(FILES ${_man}/osa.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
  COMPONENT runtime)
install(FILES ${_man}/osa.cfg.5.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man5
  COMPONENT runtime)
install(FILES ${OSA_SOURCE_DIR}/packaging/osa.bash-completion
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
  RENAME osa COMPONENT runtime)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME osa)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "OSA Index developers <osa@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "search indexes over JSON records: keyword and vector search server")
set(CPACK_PACKAGE_DESCRIPTION
  "OSA Index keeps named search indexes over JSON records and answers text and vector queries against them over HTTP and nng. This package holds the statically linked osa binary, a systemd service and its configuration.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_COMPONENTS_ALL runtime)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/opensciencearchive/server")
set(CPACK_DEBIAN_PACKAGE_DEPENDS "")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${OSA_SOURCE_DIR}/packaging/deb/conffiles
  ${OSA_SOURCE_DIR}/packaging/deb/postinst
  ${OSA_SOURCE_DIR}/packaging/deb/prerm
  ${OSA_SOURCE_DIR}/packaging/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_OUTPUT_FILE_PREFIX ${OSA_BINARY_DIR}/packages)
include(CPack)
