/*
 * Copyright (c) 2026 The evinetd authors
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */

/*
 * Loading modules.  Everything a module says about itself is checked
 * before any of its functions run: that the file is a shared object, that
 * it exports the descriptor, that the descriptor has our magic, an ABI we
 * speak and a plausible size.  Each refusal names the path and what was
 * expected, because "module failed to load" helps nobody.  The module's
 * option table, and the options a service gives it, are the config
 * layer's to check (modopt.c).
 */

#include "config.h"

#include <sys/stat.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evinetd.h"

/*
 * The size of a 1.0 descriptor: the end of its last member, frozen.  A
 * later minor appends members, so sizeof(struct evi_module) grows while
 * this stays; a module built against 1.0 declares exactly this size.
 */
#define EVI_MODULE_SIZE_1_0	(offsetof(struct evi_module, dgram) + \
	sizeof(((struct evi_module *)NULL)->dgram))

/* Maps a module name to a file: NAME is module_dir/NAME.so. */
char *
module_path(const char *module_dir, const char *name, char **cause)
{
	char	*path;
	size_t	 len;

	if (name[0] == '/') {
		len = strlen(name);
		if (strstr(name, "/../") != NULL || (len >= 3 &&
		    strcmp(name + len - 3, "/..") == 0)) {
			xasprintf(cause, "module path \"%s\" must not contain "
			    "\"..\"", name);
			return (NULL);
		}
		return (xstrdup(name));
	}
	if (strchr(name, '/') != NULL || strcmp(name, "..") == 0 ||
	    strcmp(name, ".") == 0 || name[0] == '\0') {
		xasprintf(cause, "invalid module name \"%s\" (use a name found "
		    "in module_dir, or an absolute path to a .so)", name);
		return (NULL);
	}
	len = strlen(name);
	if (len > 3 && strcmp(name + len - 3, ".so") == 0)
		xasprintf(&path, "%s/%s", module_dir, name);
	else
		xasprintf(&path, "%s/%s.so", module_dir, name);
	return (path);
}

/*
 * A module file as this process maps it.  dlopen is given the name
 * "/proc/self/fd/N" of the descriptor that was checked, and glibc knows the
 * object by that name from then on: a later dlopen of the name returns it,
 * whatever file N has become.  So N stays open, its name reserved, while
 * any object may answer to it, including one dlclose could not unmap
 * (RTLD_NODELETE, C++ unique symbols); and a file loaded twice, under two
 * paths, is one entry, so it never gets a second name.
 */
struct module_file {
	LIST_ENTRY(module_file)	 mf_entry;
	dev_t			 mf_dev;
	ino_t			 mf_ino;
	int			 mf_fd;
	unsigned int		 mf_refs;
	char			 mf_name[32];
};
static LIST_HEAD(, module_file) module_files =
    LIST_HEAD_INITIALIZER(module_files);

/* Tells a file that is not a shared object at all from a broken one. */
static int
module_check_elf(int fd, const char *path, char **cause)
{
	unsigned char	 magic[4];

	if (pread(fd, magic, sizeof(magic), 0) != (ssize_t)sizeof(magic) ||
	    memcmp(magic, "\177ELF", 4) != 0) {
		xasprintf(cause, "module %s: not a shared object (no ELF "
		    "header)", path);
		return (-1);
	}
	return (0);
}

/* Finds or makes the entry of the checked file open on fd, which it owns. */
static struct module_file *
module_file_get(int fd, const char *path, char **cause)
{
	struct module_file	*mf;
	struct stat		 st;

	if (fstat(fd, &st) == -1) {
		xasprintf(cause, "module %s: %s", path, strerror(errno));
		close(fd);
		return (NULL);
	}
	LIST_FOREACH(mf, &module_files, mf_entry) {
		if (mf->mf_dev == st.st_dev && mf->mf_ino == st.st_ino) {
			close(fd);
			mf->mf_refs++;
			return (mf);
		}
	}
	mf = xcalloc(1, sizeof(*mf));
	mf->mf_dev = st.st_dev;
	mf->mf_ino = st.st_ino;
	mf->mf_fd = fd;
	mf->mf_refs = 1;
	snprintf(mf->mf_name, sizeof(mf->mf_name), "/proc/self/fd/%d", fd);
	LIST_INSERT_HEAD(&module_files, mf, mf_entry);
	return (mf);
}

/* Drops a use of the entry; it goes once nothing answers to its name. */
static void
module_file_put(struct module_file *mf)
{
	void	*h;

	if (--mf->mf_refs > 0)
		return;
	if ((h = dlopen(mf->mf_name, RTLD_LAZY | RTLD_NOLOAD)) != NULL) {
		dlclose(h);
		log_debug("module %s stays mapped after dlclose; its name is "
		    "kept", mf->mf_name);
		return;
	}
	LIST_REMOVE(mf, mf_entry);
	close(mf->mf_fd);
	free(mf);
}

/* Checks the descriptor before trusting any pointer in it. */
static int
module_check_def(const char *path, const struct evi_module *def,
    char **cause)
{
	if (def->magic == 0) {
		xasprintf(cause, "module %s: \"%s\" has no magic number; its "
		    "descriptor probably lacks EVI_MODULE_HEADER", path,
		    EVI_MODULE_SYMBOL);
		return (-1);
	}
	if (def->magic != EVI_MODULE_MAGIC) {
		xasprintf(cause, "module %s: \"%s\" is garbled: expected magic "
		    "0x%08x but saw 0x%08x; is this an evinetd module, built "
		    "for this version?", path, EVI_MODULE_SYMBOL,
		    EVI_MODULE_MAGIC, def->magic);
		return (-1);
	}
	if (def->abi_major != EVI_ABI_MAJOR ||
	    def->abi_minor > EVI_ABI_MINOR) {
		xasprintf(cause, "module %s: built for module ABI %u.%u, but "
		    "this evinetd supports %u.0 to %u.%u; rebuild the module "
		    "against this evinetd's <evinetd/module.h>", path,
		    def->abi_major, def->abi_minor, EVI_ABI_MAJOR,
		    EVI_ABI_MAJOR, EVI_ABI_MINOR);
		return (-1);
	}
	if (def->size < EVI_MODULE_SIZE_1_0) {
		xasprintf(cause, "module %s: descriptor is %u bytes, expected "
		    "at least %zu for ABI %u.%u", path, def->size,
		    EVI_MODULE_SIZE_1_0, def->abi_major, def->abi_minor);
		return (-1);
	}
	if (def->name == NULL || def->name[0] == '\0') {
		xasprintf(cause, "module %s: descriptor has no name", path);
		return (-1);
	}
	if ((def->protocols & (EVI_PROTO_TCP | EVI_PROTO_UDP)) == 0) {
		xasprintf(cause, "module %s: serves neither tcp nor udp",
		    path);
		return (-1);
	}
	return (0);
}

/*
 * Takes the module's descriptor into daemon memory, only as many bytes as
 * the module says it has: members a newer daemon appended stay zero for
 * an older module, and nothing after load reads the module's own copy.
 */
static void
module_copy_def(struct module *m, const struct evi_module *def)
{
	size_t	n = def->size;

	if (n > sizeof(m->m_desc))
		n = sizeof(m->m_desc);
	memset(&m->m_desc, 0, sizeof(m->m_desc));
	memcpy(&m->m_desc, def, n);
	m->m_desc.size = (uint32_t)n;
	m->m_def = &m->m_desc;
}

/*
 * Loads and checks one module file; NULL with *cause on any problem.  The
 * file is opened once, by trust_open, and dlopen maps that descriptor, so
 * what runs is what was checked even if a path above it is swapped.
 */
struct module *
module_load(const char *path, char **cause)
{
	struct module		*m;
	struct module_file	*mf;
	const struct evi_module	*def;
	void			*handle;
	const char		*err;
	char			*why;
	int			 fd;

	if ((fd = trust_open(path, &why)) == -1) {
		xasprintf(cause, "module %s: %s", path, why);
		free(why);
		return (NULL);
	}
	if (module_check_elf(fd, path, cause) != 0) {
		close(fd);
		return (NULL);
	}
	if ((mf = module_file_get(fd, path, cause)) == NULL)
		return (NULL);
	if ((handle = dlopen(mf->mf_name, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		err = dlerror();
		xasprintf(cause, "module %s: cannot load: %s", path,
		    err != NULL ? err : "unknown error");
		module_file_put(mf);
		return (NULL);
	}
	(void)dlerror();
	def = dlsym(handle, EVI_MODULE_SYMBOL);
	if (def == NULL) {
		xasprintf(cause, "module %s: no \"%s\" symbol; is this an "
		    "evinetd module (see EVI_MODULE_EXPORT)?", path,
		    EVI_MODULE_SYMBOL);
		goto fail;
	}
	if (module_check_def(path, def, cause) != 0)
		goto fail;
	m = xcalloc(1, sizeof(*m));
	m->m_path = xstrdup(path);
	m->m_handle = handle;
	m->m_file = mf;
	module_copy_def(m, def);
	log_debug("module %s: loaded \"%s\", ABI %u.%u", path, def->name,
	    def->abi_major, def->abi_minor);
	return (m);
fail:
	dlclose(handle);
	module_file_put(mf);
	return (NULL);
}

/* Unmaps a module; its config generation calls this once all is done. */
void
module_unload(struct module *m)
{
	dlclose(m->m_handle);
	module_file_put(m->m_file);
	free(m->m_path);
	free(m);
}
