# SPDX-License-Identifier: MIT
# Source-package form: an OSA build that finds this folder (external/,
# OSA_EXTERNAL_BACKENDS) builds it in when CONFIG_OSA_BACKEND_POSTGRES=y.
include_guard(GLOBAL)
osa_plugin_package(postgres ${CMAKE_CURRENT_LIST_DIR})
