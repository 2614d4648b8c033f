/* SPDX-License-Identifier: MIT */
/*
 * osa/plugin.h - static plugin registration through linker sections.
 *
 * A plugin is a `const` descriptor struct.  Registering it places a `const`
 * *pointer* to it in a named ELF section (a linker set, as in FreeBSD's
 * sys/linker_set.h): every entry has the size and alignment of a pointer, so
 * no padding can break the walk.  The linker provides `__start_<set>` and
 * `__stop_<set>`; the core declares them weak, so a build without any entry
 * links and iterates zero times.  The core copies the pointers, sorts them by
 * name and refuses duplicates, ABI mismatches and missing required methods, so
 * the link order never matters.
 *
 * The entry is marked `used` (and `retain` where the compiler has it, so
 * `ld -z start-stop-gc` and `--gc-sections` keep it), pointer-aligned, and
 * never instrumented by AddressSanitizer (section names are C identifiers,
 * which ASan leaves alone, and clang is told so explicitly).
 *
 * Static archives drop objects nothing references: a plugin library must be
 * linked whole.  `osa_add_backend()` / `osa_add_embedder()` in
 * cmake/OsaPlugin.cmake do that for you.
 *
 * Use the kind-specific macros: OSA_BACKEND_REGISTER (osa/backend.h) and
 * OSA_EMBEDDER_REGISTER (osa/embedder.h).
 */
#ifndef OSA_PLUGIN_H
#define OSA_PLUGIN_H

#ifndef __has_attribute
#define __has_attribute(x) 0
#endif

#if __has_attribute(retain)
#define OSA_ATTR_RETAIN_ __attribute__((retain))
#else
#define OSA_ATTR_RETAIN_
#endif

#if defined(__clang__) && __has_attribute(no_sanitize)
#define OSA_ATTR_NOASAN_ __attribute__((no_sanitize("address")))
#else
#define OSA_ATTR_NOASAN_
#endif

#define OSA_CONCAT2_(a, b) a##b
#define OSA_CONCAT_(a, b) OSA_CONCAT2_(a, b)

/*
 * Place the pointer `ptr` (to a const descriptor of type `type`) in linker
 * set `set`.  `set` must be a plain C identifier.  The entry's name is made
 * unique with __COUNTER__, so one file may register several plugins.
 */
#define OSA_SET_ENTRY(set, type, ptr)                                          \
	static type const *const OSA_CONCAT_(osa_set_entry_, __COUNTER__)      \
		__attribute__((used, section(#set),                            \
			       aligned(__alignof__(type const *))))            \
		OSA_ATTR_RETAIN_ OSA_ATTR_NOASAN_ = (ptr)

#endif /* OSA_PLUGIN_H */
