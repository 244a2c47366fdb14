/*
 * libFuzzer target: arbitrary bytes into the PUT-time validators of
 * iCalendar (libical) and vCard data, and into the .props parser/writer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../net/dav_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *cond = NULL;
	char *comp = NULL;
	if (grove__caldav_validate((const char *)data, size, "VEVENT VTODO", &cond, &comp) == 0)
		free(comp);
	grove__carddav_validate((const char *)data, size, &cond);
	grove__dav_props p;
	if (grove__dav_props_parse(&p, (const char *)data, size) == 0) {
		grove__sbuf out = GROVE_SBUF_INIT;
		grove__dav_props_format(&p, &out);
		grove__sbuf_dispose(&out);
		grove__dav_props_dispose(&p);
	}
	return 0;
}
