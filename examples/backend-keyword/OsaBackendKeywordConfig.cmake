# SPDX-License-Identifier: MIT
# Source-package form: an OSA build that finds this folder builds it in.
include_guard(GLOBAL)
osa_plugin_package(keyword ${CMAKE_CURRENT_LIST_DIR})
