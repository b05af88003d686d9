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
 * The keys of exec services (program, args, user, rlimit_*, ...): their
 * setters for the core-key table, and the check of a whole exec service
 * once its module is known.  They are core keys, not the exec module's
 * options, because the root supervisor spawns from them: what root runs,
 * as whom, must be read and checked by the daemon, not described by a
 * module's table.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evinetd.h"

/* The rlimit_* keys, in the order of ex_rlimits[]. */
const struct exec_rlimit exec_rlimits[EXEC_NRLIMITS] = {
	{ "rlimit_as", RLIMIT_AS, EVI_OPT_SIZE },
	{ "rlimit_cpu", RLIMIT_CPU, EVI_OPT_DURATION },
	{ "rlimit_nofile", RLIMIT_NOFILE, EVI_OPT_INT },
	{ "rlimit_nproc", RLIMIT_NPROC, EVI_OPT_INT },
	{ "rlimit_core", RLIMIT_CORE, EVI_OPT_SIZE },
	{ "rlimit_data", RLIMIT_DATA, EVI_OPT_SIZE },
	{ "rlimit_stack", RLIMIT_STACK, EVI_OPT_SIZE },
};

/* Copies a key's words into a NULL-terminated array it owns. */
static void
execconf_words(char ***argv, int *argc, struct conf_token *v, int nv)
{
	int	i;

	for (i = 0; i < *argc; i++)
		free((*argv)[i]);
	free(*argv);
	*argv = xreallocarray(NULL, (size_t)nv + 1, sizeof(char *));
	for (i = 0; i < nv; i++)
		(*argv)[i] = xstrdup(v[i].text);
	(*argv)[nv] = NULL;
	*argc = nv;
}

/* args, groups, passenv: lists of words; env: of NAME=VALUE words. */
int
execconf_set_list(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	struct exec_conf	*ex = &ps->ps_svc->sc_exec;
	int			 i;

	(void)field;
	if (strcmp(ck->ck_name, "env") == 0) {
		for (i = 0; i < nv; i++) {
			if (strchr(v[i].text, '=') == NULL ||
			    v[i].text[0] == '=') {
				confkey_error(ps, "env \"%s\": not NAME=VALUE",
				    v[i].text);
				return (-1);
			}
		}
		execconf_words(&ex->ex_env, &ex->ex_nenv, v, nv);
	} else if (strcmp(ck->ck_name, "passenv") == 0) {
		for (i = 0; i < nv; i++) {
			if (strchr(v[i].text, '=') != NULL) {
				confkey_error(ps, "passenv \"%s\": a name, "
				    "without =", v[i].text);
				return (-1);
			}
		}
		execconf_words(&ex->ex_passenv, &ex->ex_npassenv, v, nv);
	} else if (strcmp(ck->ck_name, "groups") == 0)
		execconf_words(&ex->ex_groups, &ex->ex_ngroups, v, nv);
	else
		execconf_words(&ex->ex_argv, &ex->ex_argc, v, nv);
	return (0);
}

/* umask: octal, 000 to 777. */
int
execconf_set_umask(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	char	*end;
	long	 m;

	(void)ck;
	(void)nv;
	errno = 0;
	m = strtol(v[0].text, &end, 8);
	if (v[0].text[0] == '\0' || *end != '\0' || errno != 0 || m < 0 ||
	    m > 0777) {
		confkey_error(ps, "umask \"%s\": not an octal mask from 000 "
		    "to 777", v[0].text);
		return (-1);
	}
	*(long long *)field = m;
	return (0);
}

/* stderr = socket | log | null. */
int
execconf_set_stderr(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	static const char	*names[] = { "log", "socket", "null" };
	size_t			 i;

	(void)ck;
	(void)nv;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(v[0].text, names[i]) == 0) {
			*(int *)field = (int)i;
			return (0);
		}
	}
	confkey_error(ps, "stderr \"%s\": expected socket, log or null",
	    v[0].text);
	return (-1);
}

/* rlimit_*: a size, a duration, or a number as the limit asks, or unlimited. */
int
execconf_set_rlimit(struct parse_state *ps, const struct confkey *ck,
    struct conf_token *v, int nv, void *field)
{
	struct exec_conf	*ex = &ps->ps_svc->sc_exec;
	const struct exec_rlimit *rl = NULL;
	long long		 n;
	char			*cause = NULL;
	size_t			 i;
	int			 rv;

	(void)field;
	(void)nv;
	for (i = 0; i < EXEC_NRLIMITS; i++) {
		if (strcmp(exec_rlimits[i].er_name, ck->ck_name) == 0)
			rl = &exec_rlimits[i];
	}
	if (rl == NULL)
		fatalx("no rlimit for key %s", ck->ck_name);
	i = (size_t)(rl - exec_rlimits);
	if (strcmp(v[0].text, "unlimited") == 0) {
		ex->ex_rlimits[i].erv_set = 1;
		ex->ex_rlimits[i].erv_value = RLIM_INFINITY;
		return (0);
	}
	switch (rl->er_type) {
	case EVI_OPT_SIZE:
		rv = value_size(v[0].text, 0, LLONG_MAX, &n, &cause);
		break;
	case EVI_OPT_DURATION:
		rv = value_duration(v[0].text, 0, 365LL * 86400 * 1000, &n,
		    &cause);
		if (rv == 0 && n % 1000 != 0) {
			xasprintf(&cause, "%s is not whole seconds", v[0].text);
			rv = -1;
		}
		n /= 1000;
		break;
	default:
		rv = value_int(v[0].text, 0, LLONG_MAX, &n, &cause);
		break;
	}
	if (rv != 0) {
		confkey_error(ps, "%s: %s (or unlimited)", ck->ck_name, cause);
		free(cause);
		return (-1);
	}
	ex->ex_rlimits[i].erv_set = 1;
	ex->ex_rlimits[i].erv_value = (rlim_t)n;
	return (0);
}

/* A user or group named, or given by number. */
static int
execconf_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd	*pw;
	char		*end;
	unsigned long	 n;

	if ((pw = getpwnam(name)) == NULL) {
		errno = 0;
		n = strtoul(name, &end, 10);
		if (*name == '\0' || *end != '\0' || errno != 0 ||
		    n >= UINT_MAX || (pw = getpwuid((uid_t)n)) == NULL)
			return (-1);
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return (0);
}

static int
execconf_group(const char *name, gid_t *gid)
{
	struct group	*gr;
	char		*end;
	unsigned long	 n;

	if ((gr = getgrnam(name)) != NULL) {
		*gid = gr->gr_gid;
		return (0);
	}
	errno = 0;
	n = strtoul(name, &end, 10);
	if (*name == '\0' || *end != '\0' || errno != 0 || n >= UINT_MAX)
		return (-1);
	*gid = (gid_t)n;
	return (0);
}

/* Whether uid, with groups gids, may do mode's access to st. */
static int
execconf_may(const struct stat *st, uid_t uid, const gid_t *gids, int ngids,
    mode_t bits)
{
	int	i;

	if (uid == 0)
		return (bits != S_IXOTH || (st->st_mode & 0111) != 0);
	if (st->st_uid == uid)
		return ((st->st_mode & (bits << 6)) != 0);
	for (i = 0; i < ngids; i++) {
		if (st->st_gid == gids[i])
			return ((st->st_mode & (bits << 3)) != 0);
	}
	return ((st->st_mode & bits) != 0);
}

/*
 * Whether the service's user could execute program: every directory on
 * the way searchable, and the file a regular one it may execute.  NULL,
 * or why not.  Checked by the modes, as the kernel would, so that
 * "evinetd -n" run as root says what the program's user will meet.
 */
static const char *
execconf_access(const char *program, uid_t uid, const gid_t *gids,
    int ngids)
{
	struct stat	 st;
	char		*copy, *p;
	const char	*why = NULL;

	copy = xstrdup(program);
	for (p = strchr(copy + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (stat(copy, &st) == -1 || !S_ISDIR(st.st_mode) ||
		    (uid != 0 && !execconf_may(&st, uid, gids, ngids,
		    S_IXOTH)))
			why = "a directory on its path cannot be searched";
		*p = '/';
		if (why != NULL)
			break;
	}
	free(copy);
	if (why != NULL)
		return (why);
	if (stat(program, &st) == -1)
		return (strerror(errno));
	if (!S_ISREG(st.st_mode))
		return ("not a regular file");
	if (!execconf_may(&st, uid, gids, ngids, S_IXOTH))
		return ("not executable by the service's user");
	return (NULL);
}

/* The user, group and groups a service's programs run as. */
static int
execconf_ids(struct config *cf, struct service_conf *sc)
{
	struct exec_conf	*ex = &sc->sc_exec;
	gid_t			 g;
	int			 i, rv = 0;

	ex->ex_uid = cf->c_switch ? cf->c_uid : getuid();
	ex->ex_gid = cf->c_switch ? cf->c_gid : getgid();
	if (ex->ex_user != NULL &&
	    execconf_user(ex->ex_user, &ex->ex_uid, &ex->ex_gid) != 0) {
		config_error(cf, sc->sc_file, sc->sc_line, "service \"%s\": "
		    "user \"%s\" does not exist", sc->sc_name, ex->ex_user);
		rv = -1;
	}
	if (ex->ex_group != NULL && execconf_group(ex->ex_group,
	    &ex->ex_gid) != 0) {
		config_error(cf, sc->sc_file, sc->sc_line, "service \"%s\": "
		    "group \"%s\" does not exist", sc->sc_name, ex->ex_group);
		rv = -1;
	}
	free(ex->ex_gids);
	ex->ex_gids = xreallocarray(NULL, (size_t)ex->ex_ngroups + 1,
	    sizeof(gid_t));
	ex->ex_ngids = 0;
	ex->ex_gids[ex->ex_ngids++] = ex->ex_gid;
	for (i = 0; i < ex->ex_ngroups; i++) {
		if (execconf_group(ex->ex_groups[i], &g) != 0) {
			config_error(cf, sc->sc_file, sc->sc_line, "service "
			    "\"%s\": group \"%s\" (groups) does not exist",
			    sc->sc_name, ex->ex_groups[i]);
			rv = -1;
			continue;
		}
		ex->ex_gids[ex->ex_ngids++] = g;
	}
	return (rv);
}

/*
 * Checks a service's exec keys once its module is known: they belong to
 * exec services only, which need a program their user can run.  Errors
 * go to the config, each at its line.
 */
void
execconf_check(struct config *cf, struct service_conf *sc)
{
	struct exec_conf	*ex = &sc->sc_exec;
	const struct conf_where	*w;
	const char		*why;
	size_t			 i;
	int			 is_exec;

	is_exec = sc->sc_module_name != NULL &&
	    strcmp(sc->sc_module_name, "exec") == 0;
	for (i = 0; i < confkeys_count; i++) {
		w = &sc->sc_set[i];
		if (w->cw_line == 0 || !(confkeys[i].ck_flags & CK_EXEC) ||
		    is_exec)
			continue;
		config_error(cf, w->cw_file, w->cw_line, "service \"%s\": "
		    "\"%s\" is a key of exec services (module = exec)",
		    sc->sc_name, confkeys[i].ck_name);
	}
	if (!is_exec)
		return;
	if (ex->ex_program == NULL) {
		config_error(cf, sc->sc_file, sc->sc_line, "service \"%s\": "
		    "module exec needs a program", sc->sc_name);
		return;
	}
	if (execconf_ids(cf, sc) != 0)
		return;
	if ((why = execconf_access(ex->ex_program, ex->ex_uid, ex->ex_gids,
	    ex->ex_ngids)) != NULL) {
		w = &sc->sc_set[confkey_find("program", CK_SERVICE) - confkeys];
		config_error(cf, w->cw_file, w->cw_line, "service \"%s\": "
		    "program %s: %s", sc->sc_name, ex->ex_program, why);
	}
	if (!ex->ex_wait && sc->sc_protocol == EVI_PROTO_UDP)
		config_error(cf, sc->sc_file, sc->sc_line, "service \"%s\": "
		    "a udp program serves its socket itself: it needs "
		    "\"wait = yes\"", sc->sc_name);
	if (ex->ex_wait && sc->sc_protocol == EVI_PROTO_TCP &&
	    ex->ex_instances > 1) {
		w = &sc->sc_set[confkey_find("instances", CK_SERVICE) -
		    confkeys];
		config_error(cf, w->cw_file, w->cw_line, "service \"%s\": "
		    "a wait service runs one program at a time; instances "
		    "must be 0 or 1", sc->sc_name);
	}
}

/* Frees what a service's exec keys hold. */
void
execconf_free(struct exec_conf *ex)
{
	int	i;

	free(ex->ex_program);
	for (i = 0; i < ex->ex_argc; i++)
		free(ex->ex_argv[i]);
	free(ex->ex_argv);
	free(ex->ex_user);
	free(ex->ex_group);
	for (i = 0; i < ex->ex_ngroups; i++)
		free(ex->ex_groups[i]);
	free(ex->ex_groups);
	for (i = 0; i < ex->ex_nenv; i++)
		free(ex->ex_env[i]);
	free(ex->ex_env);
	for (i = 0; i < ex->ex_npassenv; i++)
		free(ex->ex_passenv[i]);
	free(ex->ex_passenv);
	free(ex->ex_cwd);
	free(ex->ex_gids);
	memset(ex, 0, sizeof(*ex));
}
