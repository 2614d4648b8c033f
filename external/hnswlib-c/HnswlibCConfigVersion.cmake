# SPDX-License-Identifier: MIT
#
# Version of the HnswlibC package (the shim's own API version; it wraps
# hnswlib 0.6.2).  Compatible with any requested version of the same major.
set(PACKAGE_VERSION "1.0.0")
if(PACKAGE_FIND_VERSION_MAJOR AND
   NOT PACKAGE_FIND_VERSION_MAJOR STREQUAL "1")
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
elseif(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
