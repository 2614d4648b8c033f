# SPDX-License-Identifier: MIT
# Source-package form of the `field` embedder: an OSA build builds it in.
include_guard(GLOBAL)
osa_plugin_package(field ${CMAKE_CURRENT_LIST_DIR})
