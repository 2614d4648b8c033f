# SPDX-License-Identifier: MIT
# Source-package form of the `text` backend: an OSA build builds it in.
include_guard(GLOBAL)
osa_plugin_package(text ${CMAKE_CURRENT_LIST_DIR})
