/* Small HTTP helpers: reason phrases, percent-decoding, request accessors. */
#include "http_internal.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *grove__http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 207: return "Multi-Status";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 423: return "Locked";
	case 424: return "Failed Dependency";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	default: return "Unknown";
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int grove__http_percent_decode(char **out, const char *in, size_t n)
{
	char *s = grove__malloc(n + 1);
	if (!s)
		return GROVE_ENOMEM;
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (in[i] != '%') {
			s[j++] = in[i];
			continue;
		}
		int hi = i + 2 < n ? hexval(in[i + 1]) : -1;
		int lo = i + 2 < n ? hexval(in[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(s);
			return grove__error_set(GROVE_EINVALID, "bad percent escape in path");
		}
		s[j++] = (char)(hi * 16 + lo);
		i += 2;
	}
	s[j] = '\0';
	*out = s;
	return 0;
}

int grove__http_req_method(const grove__http_request *req)
{
	return req->method;
}

const char *grove__http_req_method_name(const grove__http_request *req)
{
	return http_method_str((enum http_method)req->method);
}

const char *grove__http_req_raw_target(const grove__http_request *req)
{
	return req->target ? req->target : "";
}

const char *grove__http_req_path(const grove__http_request *req)
{
	return req->path ? req->path : "/";
}

const char *grove__http_req_query(const grove__http_request *req)
{
	return req->query;
}

const char *grove__http_req_header(const grove__http_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

const char *grove__http_req_body(const grove__http_request *req, size_t *len)
{
	if (len)
		*len = req->body.len;
	return req->body.data ? req->body.data : "";
}

const char *grove__http_req_remote(const grove__http_request *req)
{
	return req->remote ? req->remote : "-";
}

const char *grove__http_req_user(const grove__http_request *req)
{
	return req->user;
}

int grove__http_req_set_user(grove__http_request *req, const char *user)
{
	char *u = grove__strdup(user);
	if (!u)
		return GROVE_ENOMEM;
	free(req->user);
	req->user = u;
	return 0;
}
