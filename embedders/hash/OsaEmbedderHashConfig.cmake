# SPDX-License-Identifier: MIT
# Source-package form of the `hash` embedder: an OSA build builds it in.
include_guard(GLOBAL)
osa_plugin_package(hash ${CMAKE_CURRENT_LIST_DIR})
