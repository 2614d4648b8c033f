# SPDX-License-Identifier: MIT
# Source-package form of the `flat` backend: an OSA build builds it in.
include_guard(GLOBAL)
osa_plugin_package(flat ${CMAKE_CURRENT_LIST_DIR})
