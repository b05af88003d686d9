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
 * expected, because "module failed to load" helps nobody.  Options given
 * in the config are checked here against the module's table too.
 */

#include "config.h"

#include <sys/stat.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evinetd.h"

/* The smallest descriptor of each minor of ABI 1, for the size check. */
#define EVI_MODULE_SIZE_1_0	sizeof(struct evi_module)

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
 * Checks the option table: names must be unique, not core keys (a core
 * key would silently win in the config), and of a known type.
 */
static int
module_check_options(const char *path, const struct evi_module *def,
    char **cause)
{
	const struct evi_option	*o, *p;
	const char		*core = config_core_keys(), *k;
	size_t			 len;

	for (o = def->options; o != NULL && o->name != NULL; o++) {
		len = strlen(o->name);
		for (k = core; (k = strstr(k, o->name)) != NULL; k += len) {
			if ((k == core || k[-1] == ' ') &&
			    (k[len] == ',' || k[len] == '\0')) {
				xasprintf(cause, "module %s: option \"%s\" has "
				    "the name of a core key; the module must "
				    "rename it", path, o->name);
				return (-1);
			}
		}
		for (p = def->options; p != o; p++) {
			if (strcmp(p->name, o->name) == 0) {
				xasprintf(cause, "module %s: option \"%s\" is "
				    "declared twice", path, o->name);
				return (-1);
			}
		}
		if ((unsigned int)o->type > EVI_OPT_PATH) {
			xasprintf(cause, "module %s: option \"%s\" has an "
			    "unknown type %d", path, o->name, (int)o->type);
			return (-1);
		}
	}
	return (0);
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
	if (module_check_def(path, def, cause) != 0 ||
	    module_check_options(path, def, cause) != 0)
		goto fail;
	m = xcalloc(1, sizeof(*m));
	m->m_path = xstrdup(path);
	m->m_handle = handle;
	m->m_file = mf;
	m->m_def = def;
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

static const char *
option_type_name(enum evi_option_type t)
{
	switch (t) {
	case EVI_OPT_STRING:
		return ("string");
	case EVI_OPT_INT:
		return ("integer");
	case EVI_OPT_BOOL:
		return ("boolean");
	case EVI_OPT_DURATION:
		return ("duration");
	case EVI_OPT_SIZE:
		return ("size");
	case EVI_OPT_ENUM:
		return ("choice");
	case EVI_OPT_PATH:
		return ("path");
	}
	return ("?");
}

/* Is word one of the space-separated words in list? */
static int
word_in_list(const char *word, const char *list)
{
	size_t	 len = strlen(word);
	const char *p = list;

	/* "fast slow" would match two choices in a row. */
	if (strchr(word, ' ') != NULL)
		return (0);
	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		if (strncmp(p, word, len) == 0 && (p[len] == ' ' ||
		    p[len] == '\0') && len > 0)
			return (1);
		p = strchr(p, ' ');
	}
	return (0);
}

/*
 * Converts one option value by its declared type.  A relative path is
 * made relative to the directory of the file that set it, so a config
 * means the same thing whatever the daemon's working directory is.
 */
static int
module_convert(const struct evi_option *o, const char *text,
    const char *file, struct optval *ov, char **cause)
{
	char	*copy, *path;
	int	 b;

	switch (o->type) {
	case EVI_OPT_STRING:
		break;
	case EVI_OPT_PATH:
		if (*text == '\0') {
			xasprintf(cause, "empty path");
			return (-1);
		}
		if (trust_option_path(text, file, cause) != 0)	/* trust.c */
			return (-1);
		if (*text == '/' || file == NULL)
			break;
		copy = xstrdup(file);
		xasprintf(&path, "%s/%s", dirname(copy), text);
		free(copy);
		free(ov->ov_str);
		ov->ov_str = path;
		ov->ov_set = 1;
		return (0);
	case EVI_OPT_INT:
		if (value_int(text, o->min, o->max, &ov->ov_num, cause) != 0)
			return (-1);
		break;
	case EVI_OPT_BOOL:
		if (value_bool(text, &b, cause) != 0)
			return (-1);
		ov->ov_num = b;
		break;
	case EVI_OPT_DURATION:
		if (value_duration(text, o->min, o->max, &ov->ov_num,
		    cause) != 0)
			return (-1);
		break;
	case EVI_OPT_SIZE:
		if (value_size(text, o->min, o->max, &ov->ov_num, cause) != 0)
			return (-1);
		break;
	case EVI_OPT_ENUM:
		if (o->choices == NULL || !word_in_list(text, o->choices)) {
			xasprintf(cause, "invalid value \"%s\" (expected one "
			    "of: %s)", text, o->choices ? o->choices : "");
			return (-1);
		}
		break;
	default:
		xasprintf(cause, "unknown option type %d", (int)o->type);
		return (-1);
	}
	free(ov->ov_str);
	ov->ov_str = xstrdup(text);
	ov->ov_set = 1;
	return (0);
}

/*
 * Matches a service's raw options to its module's table, converting each
 * value and applying defaults; every mismatch is a FILE:LINE error.
 */
int
module_options(struct config *cf, struct service_conf *sc)
{
	const struct evi_module	*def = sc->sc_module->m_def;
	const struct evi_option	*o;
	struct conf_item	*ci;
	struct optval		*ov;
	size_t			 n = 0, i;
	char			*cause;
	int			 before = cf->c_nerrors;
	int			*lines;
	struct suggestion	 sg;

	for (o = def->options; o != NULL && o->name != NULL; o++)
		n++;
	sc->sc_noptvals = n;
	sc->sc_optvals = n ? xcalloc(n, sizeof(*sc->sc_optvals)) : NULL;
	lines = n ? xcalloc(n, sizeof(*lines)) : NULL;
	for (i = 0; i < n; i++)
		sc->sc_optvals[i].ov_opt = &def->options[i];

	TAILQ_FOREACH(ci, &sc->sc_options, ci_entry) {
		for (i = 0; i < n; i++) {
			if (strcmp(def->options[i].name, ci->ci_key) == 0)
				break;
		}
		if (i == n) {
			sg.sg_distance = SIZE_MAX;
			config_suggest_list(&sg, ci->ci_key,
			    config_core_keys());
			for (i = 0; i < n; i++)
				config_suggest(&sg, ci->ci_key,
				    def->options[i].name,
				    strlen(def->options[i].name));
			if (sg.sg_distance != SIZE_MAX)
				config_error(cf, ci->ci_file, ci->ci_line,
				    "service \"%s\": unknown key \"%s\"; did you "
				    "mean \"%s\"?", sc->sc_name, ci->ci_key,
				    sg.sg_word);
			else
				config_error(cf, ci->ci_file, ci->ci_line,
				    "service \"%s\": unknown key \"%s\" (not a "
				    "core key: %s; and module \"%s\" has no such "
				    "option)", sc->sc_name, ci->ci_key,
				    config_core_keys(), def->name);
			continue;
		}
		o = &def->options[i];
		ov = &sc->sc_optvals[i];
		if (lines[i] != 0) {
			config_error(cf, ci->ci_file, ci->ci_line,
			    "service \"%s\": duplicate option \"%s\" (first "
			    "set at line %d)", sc->sc_name, o->name, lines[i]);
			continue;
		}
		lines[i] = ci->ci_line;
		if (ci->ci_argc != 1) {
			config_error(cf, ci->ci_file, ci->ci_line,
			    "service \"%s\": option \"%s\" takes one %s "
			    "value, not %d (quote a value with spaces)",
			    sc->sc_name, o->name, option_type_name(o->type),
			    ci->ci_argc);
			continue;
		}
		if (module_convert(o, ci->ci_argv[0], ci->ci_file, ov,
		    &cause) != 0) {
			config_error(cf, ci->ci_file, ci->ci_line,
			    "service \"%s\": option \"%s\": %s", sc->sc_name,
			    o->name, cause);
			free(cause);
		}
	}
	for (i = 0; i < n; i++) {
		o = &def->options[i];
		ov = &sc->sc_optvals[i];
		if (lines[i] != 0)
			continue;
		if (o->flags & EVI_OPT_REQUIRED) {
			config_error(cf, sc->sc_file, sc->sc_line,
			    "service \"%s\": module \"%s\" needs option "
			    "\"%s\" (%s)", sc->sc_name, def->name, o->name,
			    o->help ? o->help : option_type_name(o->type));
			continue;
		}
		if (o->default_value != NULL &&
		    module_convert(o, o->default_value, NULL, ov,
		    &cause) != 0) {
			config_error(cf, sc->sc_file, sc->sc_line,
			    "service \"%s\": module \"%s\" has a bad default "
			    "for option \"%s\": %s", sc->sc_name, def->name,
			    o->name, cause);
			free(cause);
		}
	}
	free(lines);
	return (cf->c_nerrors == before ? 0 : -1);
}

void
module_optvals_free(struct service_conf *sc)
{
	size_t	i;

	for (i = 0; i < sc->sc_noptvals; i++)
		free(sc->sc_optvals[i].ov_str);
	free(sc->sc_optvals);
	sc->sc_optvals = NULL;
	sc->sc_noptvals = 0;
}
