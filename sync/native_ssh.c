/*
 * ssh remotes for the native client (native.h): which URLs are ssh, and
 * the argv of the OpenSSH client that runs git-upload-pack /
 * git-receive-pack on the remote host.
 *
 * Why OpenSSH as a program, not libgit2's libssh2: libssh2 reads its
 * socket itself, so a live server that goes silent mid-session was never
 * timed out, and libgit2 1.5 checks no host key at all.  The ssh program
 * checks host keys against known_hosts (StrictHostKeyChecking as the
 * user's config says; BatchMode makes "ask" a refusal), uses the user's
 * agent and config, and its stdin/stdout are one end of a socket pair that
 * the native client reads in poll() ticks: the inactivity timeout and the
 * cancel flag cover the whole session, and the child is killed and reaped
 * when either fires.
 *
 * No shell runs on our side (argv only), except for $GROVE_SSH_COMMAND or
 * $GIT_SSH_COMMAND, which git also runs through the shell.  The remote
 * side does run a shell on the command string, so the path is put in
 * single quotes; a path with a single quote, a control character, a host
 * or user that starts with '-' (it would be read as an option) is refused.
 */
#include "native.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"

/* The length of an ssh scheme prefix ("ssh://", "git+ssh://",
 * "ssh+git://"), 0 for anything else. */
static size_t ssh_scheme_len(const char *url)
{
	static const char *const schemes[] = { "ssh://", "git+ssh://", "ssh+git://" };
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (!strncasecmp(url, schemes[i], strlen(schemes[i])))
			return strlen(schemes[i]);
	return 0;
}

/* scp-like "[user@]host:path" as git reads it: a ':' with no '/' before it
 * and no "://" (a bracketed host may hold ':'). */
static const char *scp_colon(const char *url)
{
	const char *colon, *slash;
	if (strstr(url, "://"))
		return NULL;
	if (url[0] == '[' || (strchr(url, '@') && strchr(url, '@')[1] == '[')) {
		const char *open = strchr(url, '['), *close = strchr(open, ']');
		if (!close || close[1] != ':')
			return NULL;
		slash = memchr(url, '/', (size_t)(close - url));
		return slash ? NULL : close + 1;
	}
	colon = strchr(url, ':');
	slash = strchr(url, '/');
	if (!colon || (slash && slash < colon))
		return NULL;
	return colon;
}

int grove__ssh_is_url(const char *url)
{
	return url && (ssh_scheme_len(url) || scp_colon(url));
}

void grove__ssh_target_dispose(grove__ssh_target *t)
{
	free(t->user);
	free(t->host);
	free(t->port);
	free(t->path);
	memset(t, 0, sizeof(*t));
}

static int has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* Splits "[user@]host" (host may be "[v6]"); port_at is the ':' of a port
 * in ssh:// form or NULL. */
static int take_user_host(grove__ssh_target *t, const char *s, size_t len, int allow_port)
{
	const char *at = NULL, *h, *end = s + len, *hend;
	for (const char *p = s; p < end; p++)
		if (*p == '@')
			at = p;
	if (at) {
		/* ssh://user:password@host: ssh takes no password; the user only. */
		const char *colon = memchr(s, ':', (size_t)(at - s));
		size_t ulen = (size_t)((colon ? colon : at) - s);
		if (ulen && !(t->user = grove__strndup(s, ulen)))
			return GROVE_ENOMEM;
	}
	h = at ? at + 1 : s;
	if (h < end && *h == '[') {
		const char *close = memchr(h, ']', (size_t)(end - h));
		if (!close)
			return grove__error_set(GROVE_EINVALID, "invalid ssh URL: unclosed '[' in the host");
		hend = close + 1;
		if (hend < end) {
			if (!allow_port || *hend != ':')
				return grove__error_set(GROVE_EINVALID, "invalid ssh URL: text after the host's ']'");
			if (hend + 1 < end && !(t->port = grove__strndup(hend + 1, (size_t)(end - hend - 1))))
				return GROVE_ENOMEM;
		}
		h++;
		hend = close;
	} else {
		const char *colon = allow_port ? memchr(h, ':', (size_t)(end - h)) : NULL;
		hend = colon ? colon : end;
		if (colon && colon + 1 < end && !(t->port = grove__strndup(colon + 1, (size_t)(end - colon - 1))))
			return GROVE_ENOMEM;
	}
	if (hend == h)
		return grove__error_set(GROVE_EINVALID, "invalid ssh URL: no host");
	if (!(t->host = grove__strndup(h, (size_t)(hend - h))))
		return GROVE_ENOMEM;
	return 0;
}

int grove__ssh_parse(const char *url, grove__ssh_target *t)
{
	size_t skip;
	const char *colon;
	int rc;
	memset(t, 0, sizeof(*t));
	if (!url)
		return grove__error_set(GROVE_EINVALID, "invalid ssh URL: none given");
	if ((skip = ssh_scheme_len(url))) {
		const char *a = url + skip, *slash = strchr(a, '/');
		if (!slash || !slash[1]) {
			rc = grove__error_set(GROVE_EINVALID, "invalid ssh URL: no repository path");
			goto fail;
		}
		if ((rc = take_user_host(t, a, (size_t)(slash - a), 1)) < 0)
			goto fail;
		/* ssh://host/~user/x: the path is "~user/x", as git sends it. */
		if (!(t->path = grove__strdup(slash[1] == '~' ? slash + 1 : slash))) {
			rc = GROVE_ENOMEM;
			goto fail;
		}
	} else if ((colon = scp_colon(url))) {
		if (!colon[1]) {
			rc = grove__error_set(GROVE_EINVALID, "invalid ssh URL: no repository path");
			goto fail;
		}
		if ((rc = take_user_host(t, url, (size_t)(colon - url), 0)) < 0)
			goto fail;
		if (!(t->path = grove__strdup(colon + 1))) {
			rc = GROVE_ENOMEM;
			goto fail;
		}
	} else {
		return grove__error_set(GROVE_EINVALID, "not an ssh URL");
	}

	/* What ssh would read as an option, or the remote shell could misread. */
	if (t->host[0] == '-') {
		rc = grove__error_set(GROVE_EINVALID, "invalid ssh URL: the host may not start with '-'");
		goto fail;
	}
	if (t->user && t->user[0] == '-') {
		rc = grove__error_set(GROVE_EINVALID, "invalid ssh URL: the user may not start with '-'");
		goto fail;
	}
	if (has_ctl(t->host) || (t->user && has_ctl(t->user)) || strpbrk(t->host, " \t") ||
	    (t->user && strpbrk(t->user, " \t"))) {
		rc = grove__error_set(GROVE_EINVALID, "invalid ssh URL: white space or a control character in the user or host");
		goto fail;
	}
	if (t->port) {
		char *end;
		long p = strtol(t->port, &end, 10);
		if (!*t->port || *end || t->port[0] == '-' || t->port[0] == '+' || p < 1 || p > 65535) {
			rc = grove__error_set(GROVE_EINVALID, "invalid ssh URL: bad port '%s'", t->port);
			goto fail;
		}
	}
	if (strchr(t->path, '\'')) {
		rc = grove__error_set(GROVE_EINVALID, "invalid ssh URL: a repository path with a single quote is not supported");
		goto fail;
	}
	if (has_ctl(t->path)) {
		rc = grove__error_set(GROVE_EINVALID, "invalid ssh URL: a control character in the repository path");
		goto fail;
	}
	return 0;
fail:
	grove__ssh_target_dispose(t);
	return rc;
}

int grove__ssh_remote_command(const char *service, const char *path, char **out)
{
	grove__sbuf b = GROVE_SBUF_INIT;
	*out = NULL;
	if (strchr(path, '\'') || has_ctl(path))
		return grove__error_set(GROVE_EINVALID, "the repository path cannot be quoted for the remote shell");
	if (grove__sbuf_printf(&b, "%s '", service) < 0)
		goto oom;
	for (const char *p = path; *p; p++) {
		/* '!' is special to csh even inside single quotes: close the
		 * quote, escape it, reopen (as git does). */
		if (*p == '!' ? grove__sbuf_puts(&b, "'\\!'") < 0 : grove__sbuf_putc(&b, *p) < 0)
			goto oom;
	}
	if (grove__sbuf_puts(&b, "'") < 0 || grove__sbuf_putc(&b, '\0') < 0)
		goto oom;
	*out = b.data;
	return 0;
oom:
	grove__sbuf_dispose(&b);
	return grove__error_oom();
}

void grove__ssh_argv_dispose(grove__ssh_argv *a)
{
	for (size_t i = 0; a->argv && i < a->argc; i++)
		free(a->argv[i]);
	free(a->argv);
	memset(a, 0, sizeof(*a));
}

static int argv_add(grove__ssh_argv *a, const char *s)
{
	char **n;
	if (!(n = grove__realloc(a->argv, (a->argc + 2) * sizeof(*n))))
		return GROVE_ENOMEM;
	a->argv = n;
	if (!(n[a->argc] = grove__strdup(s)))
		return GROVE_ENOMEM;
	n[++a->argc] = NULL;
	return 0;
}

int grove__ssh_build_argv(const grove__ssh_target *t, const char *service, const char *key,
	const char *command, int askpass, grove__ssh_argv *out)
{
	char *remote = NULL;
	int rc;
	memset(out, 0, sizeof(*out));
	if (key && key[0] == '-')
		return grove__error_set(GROVE_EINVALID, "ssh key file '%s': a name starting with '-' is not accepted", key);
	if ((rc = grove__ssh_remote_command(service, t->path, &remote)) < 0)
		return rc;
	if (command && *command) {
		/* As git runs GIT_SSH_COMMAND: through the shell, our arguments
		 * after it ("$@"), the command itself as $0. */
		char *script = grove__malloc(strlen(command) + 8);
		if (!script) {
			rc = GROVE_ENOMEM;
			goto out;
		}
		strcpy(script, command);
		strcat(script, " \"$@\"");
		rc = argv_add(out, "/bin/sh");
		if (!rc)
			rc = argv_add(out, "-c");
		if (!rc)
			rc = argv_add(out, script);
		if (!rc)
			rc = argv_add(out, command);
		free(script);
	} else {
		rc = argv_add(out, "ssh");
	}
	/* Never prompt on a terminal (none is ours to use).  BatchMode would
	 * also stop ssh from asking our askpass helper for a key's passphrase;
	 * with one, SSH_ASKPASS_REQUIRE=force sends every question to the
	 * helper, which answers only the passphrase prompt.  No pty on the
	 * stream. */
	if (!rc && !askpass && (rc = argv_add(out, "-o")) == 0)
		rc = argv_add(out, "BatchMode=yes");
	if (!rc)
		rc = argv_add(out, "-T");
	if (!rc && t->port && (rc = argv_add(out, "-p")) == 0)
		rc = argv_add(out, t->port);
	if (!rc && key && *key && (rc = argv_add(out, "-i")) == 0 && (rc = argv_add(out, key)) == 0 &&
	    (rc = argv_add(out, "-o")) == 0)
		rc = argv_add(out, "IdentitiesOnly=yes");
	if (!rc && t->user && (rc = argv_add(out, "-l")) == 0)
		rc = argv_add(out, t->user);
	if (!rc)
		rc = argv_add(out, "--");
	if (!rc)
		rc = argv_add(out, t->host);
	if (!rc)
		rc = argv_add(out, remote);
out:
	free(remote);
	if (rc < 0) {
		grove__ssh_argv_dispose(out);
		return rc == GROVE_ENOMEM ? grove__error_oom() : rc;
	}
	return 0;
}
