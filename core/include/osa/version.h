/* SPDX-License-Identifier: MIT */
/*
 * osa/version.h - version of the OSA Index library and of its plugin ABIs.
 *
 * OSA_VERSION_* describe the library release.  The plugin ABI numbers live
 * beside the structs they version (osa/backend.h, osa/embedder.h); both use
 * the form (major << 16 | minor): a plugin built against a different major is
 * refused at start, naming it; a newer minor only adds methods at the end of
 * the descriptor, which the core checks for NULL before calling.
 */
#ifndef OSA_VERSION_H
#define OSA_VERSION_H

#define OSA_VERSION_MAJOR 0
#define OSA_VERSION_MINOR 3
#define OSA_VERSION_PATCH 0
#define OSA_VERSION_STRING "0.3.0"

/* Build an ABI number from its major and minor parts. */
#define OSA_ABI(major, minor) ((unsigned)(((major) << 16) | ((minor)&0xffff)))
/* The major part of an ABI number. */
#define OSA_ABI_MAJOR(abi) ((unsigned)(abi) >> 16)
/* The minor part of an ABI number. */
#define OSA_ABI_MINOR(abi) ((unsigned)(abi)&0xffff)

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version string, e.g. "0.3.0".  Never NULL. */
const char *osa_version(void);

#ifdef __cplusplus
}
#endif

#endif /* OSA_VERSION_H */
