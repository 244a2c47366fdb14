/* pkt-line codec: framing, incremental reading, errors, side-band. */
#include <criterion/criterion.h>
#include <string.h>

#include "../../git/pktline.h"
#include "error.h"

/* Reads every packet from input fed in chunks of `step` bytes; renders
 * them as "F", "D", "E", "-" (empty) or "<payload>" joined by '|'. */
static int read_all(const char *input, size_t len, size_t step, char *out, size_t outcap)
{
	grove__pkt_reader r = GROVE__PKT_READER_INIT;
	size_t off = 0, o = 0;
	int rc = 0;
	out[0] = '\0';
	while (off < len) {
		size_t chunk = len - off < step ? len - off : step;
		size_t pos = 0;
		while (pos < chunk) {
			grove__pkt pkt;
			size_t used = 0;
			rc = grove__pkt_read(&r, input + off + pos, chunk - pos, &used, &pkt);
			if (rc < 0)
				goto done;
			pos += used;
			if (rc == 1) {
				const char *s = pkt.kind == GROVE__PKT_FLUSH ? "F" :
					pkt.kind == GROVE__PKT_DELIM ? "D" :
					pkt.kind == GROVE__PKT_RESPONSE_END ? "E" : NULL;
				if (o)
					out[o++] = '|';
				if (!s && pkt.len == 0)
					s = "-";
				if (s) {
					memcpy(out + o, s, 1);
					o++;
				} else {
					cr_assert(o + pkt.len < outcap);
					memcpy(out + o, pkt.data, pkt.len);
					o += pkt.len;
				}
				out[o] = '\0';
			}
		}
		off += chunk;
	}
	rc = grove__pkt_reader_pending(&r) ? 2 : 0;
done:
	grove__pkt_reader_dispose(&r);
	return rc;
}

Test(pktline, reads_packets_whole_and_byte_by_byte)
{
	const char in[] = "000ahello\n00000001000cworld!!!0002";
	char out[256];
	for (size_t step = 1; step <= sizeof(in); step++) {
		cr_assert_eq(read_all(in, sizeof(in) - 1, step, out, sizeof(out)), 0);
		cr_assert_str_eq(out, "hello\n|F|D|world!!!|E", "step %zu", step);
	}
}

Test(pktline, empty_data_packet_0004)
{
	char out[64];
	cr_assert_eq(read_all("00040000", 8, 3, out, sizeof(out)), 0);
	cr_assert_str_eq(out, "-|F");
}

Test(pktline, truncated_input_is_reported_pending)
{
	char out[64];
	cr_assert_eq(read_all("000ahel", 7, 2, out, sizeof(out)), 2);
	cr_assert_eq(read_all("00", 2, 1, out, sizeof(out)), 2);
}

Test(pktline, bad_hex_is_an_error)
{
	char out[64];
	cr_assert_eq(read_all("00g1abcd", 8, 8, out, sizeof(out)), GROVE_EINVALID);
	cr_assert(strstr(grove_error_message(), "not 4 hex digits"), "%s", grove_error_message());
	cr_assert(strstr(grove_error_message(), "00g1"));
	cr_assert_eq(read_all("\x01\x02zz", 4, 1, out, sizeof(out)), GROVE_EINVALID);
	cr_assert(strstr(grove_error_message(), "\\x01"), "%s", grove_error_message());
}

Test(pktline, oversized_and_length_3_are_errors)
{
	char out[64];
	cr_assert_eq(read_all("fff1", 4, 4, out, sizeof(out)), GROVE_EINVALID);
	cr_assert(strstr(grove_error_message(), "longer than 65520"));
	cr_assert_eq(read_all("0003", 4, 4, out, sizeof(out)), GROVE_EINVALID);
	cr_assert(strstr(grove_error_message(), "length 3"));
}

Test(pktline, uppercase_hex_is_accepted)
{
	char out[64];
	cr_assert_eq(read_all("000Aabcdef", 10, 10, out, sizeof(out)), 0);
	cr_assert_str_eq(out, "abcdef");
}

Test(pktline, largest_packet_round_trips)
{
	static char payload[GROVE__PKT_DATA_MAX];
	grove__sbuf b = GROVE_SBUF_INIT;
	grove__pkt_reader r = GROVE__PKT_READER_INIT;
	grove__pkt pkt;
	size_t used, off = 0;
	int rc;
	memset(payload, 'x', sizeof(payload));
	cr_assert_eq(grove__pkt_write(&b, payload, sizeof(payload)), 0);
	cr_assert_eq(memcmp(b.data, "fff0", 4), 0);
	cr_assert_eq(grove__pkt_write(&b, payload, sizeof(payload) + 1), GROVE_EINVALID);
	cr_assert_eq(b.len, GROVE__PKT_MAX);
	/* Fed in two pieces, the payload is copied and reassembled. */
	rc = grove__pkt_read(&r, b.data, 1000, &used, &pkt);
	cr_assert_eq(rc, 0);
	off = used;
	rc = grove__pkt_read(&r, b.data + off, b.len - off, &used, &pkt);
	cr_assert_eq(rc, 1);
	cr_assert_eq(pkt.len, sizeof(payload));
	cr_assert_eq(memcmp(pkt.data, payload, pkt.len), 0);
	grove__pkt_reader_dispose(&r);
	grove__sbuf_dispose(&b);
}

Test(pktline, writers)
{
	grove__sbuf b = GROVE_SBUF_INIT;
	cr_assert_eq(grove__pkt_puts(&b, "a\n"), 0);
	cr_assert_eq(grove__pkt_printf(&b, "want %s\n", "x"), 0);
	cr_assert_eq(grove__pkt_flush(&b), 0);
	cr_assert_eq(grove__pkt_delim(&b), 0);
	cr_assert_eq(grove__pkt_response_end(&b), 0);
	cr_assert_eq(grove__pkt_error(&b, "upload-pack: not our ref %d", 7), 0);
	cr_assert_str_eq(b.data, "0006a\n000bwant x\n000000010002"
		"0023ERR upload-pack: not our ref 7\n");
	grove__sbuf_dispose(&b);
}

Test(pktline, long_printf_uses_heap)
{
	grove__sbuf b = GROVE_SBUF_INIT;
	char big[2000];
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(grove__pkt_printf(&b, "%s", big), 0);
	cr_assert_eq(b.len, 4 + 1999);
	cr_assert_eq(memcmp(b.data, "07d3", 4), 0);
	grove__sbuf_dispose(&b);
}

Test(pktline, sideband_splits_into_bands)
{
	grove__sbuf b = GROVE_SBUF_INIT;
	char data[2000];
	memset(data, 'z', sizeof(data));
	cr_assert_eq(grove__pkt_sideband(&b, 2, "hi", 2, GROVE__SIDEBAND64K_DATA_MAX), 0);
	cr_assert_eq(memcmp(b.data, "0007\2hi", 7), 0);
	grove__sbuf_reset(&b);
	/* Old side-band: packets of at most 1000 bytes. */
	cr_assert_eq(grove__pkt_sideband(&b, 1, data, sizeof(data), GROVE__SIDEBAND_DATA_MAX), 0);
	cr_assert_eq(memcmp(b.data, "03e8\1", 5), 0);
	cr_assert_eq(memcmp(b.data + 1000, "03e8\1", 5), 0);
	cr_assert_eq(memcmp(b.data + 2000, "000f\1", 5), 0); /* 2000 - 2 * 995 = 10 left */
	cr_assert_eq(b.len, 2015);
	cr_assert_eq(grove__pkt_sideband(&b, 4, "x", 1, 0), GROVE_EINVALID);
	grove__sbuf_dispose(&b);
}

Test(pktline, chomp)
{
	cr_assert_eq(grove__pkt_chomp("ab\n", 3), 2);
	cr_assert_eq(grove__pkt_chomp("ab", 2), 2);
	cr_assert_eq(grove__pkt_chomp("", 0), 0);
}
