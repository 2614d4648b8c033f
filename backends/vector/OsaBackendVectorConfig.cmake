# SPDX-License-Identifier: MIT
# Source-package form of the `vector` backend: an OSA build builds it in.
include_guard(GLOBAL)
osa_plugin_package(vector ${CMAKE_CURRENT_LIST_DIR})
