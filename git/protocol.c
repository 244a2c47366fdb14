/* Helpers shared by the protocol sessions and their transports. */
#include "protocol.h"

#include <string.h>

#include "pktline.h"

grove__protocol_version grove__protocol_parse(const char *s)
{
	grove__protocol_version best = GROVE__PROTOCOL_V0;
	while (s && *s) {
		size_t n = strcspn(s, ":");
		if (n == 9 && !memcmp(s, "version=2", 9))
			best = GROVE__PROTOCOL_V2;
		else if (n == 9 && !memcmp(s, "version=1", 9) && best < GROVE__PROTOCOL_V1)
			best = GROVE__PROTOCOL_V1;
		s += n;
		if (*s == ':')
			s++;
	}
	return best;
}

int grove__protocol_service_header(grove__sbuf *out, const char *service)
{
	int err = grove__pkt_printf(out, "# service=%s\n", service);
	return err < 0 ? err : grove__pkt_flush(out);
}
