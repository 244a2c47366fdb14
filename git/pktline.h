/*
 * pkt-line framing (gitprotocol-common): a 4-hex-digit length that counts
 * itself, then the payload.  Special packets: 0000 flush, 0001 delim,
 * 0002 response-end.  Plus side-band multiplexing and ERR packets.
 *
 * The reader is incremental: feed it whatever bytes arrived, it hands back
 * whole packets.  The writers append framed packets to a grove__sbuf.
 */
#ifndef GROVE_GIT_PKTLINE_H
#define GROVE_GIT_PKTLINE_H

#include <stddef.h>

#include "sbuf.h"

/* Largest packet including the 4-byte header, and its payload. */
#define GROVE__PKT_MAX 65520
#define GROVE__PKT_DATA_MAX (GROVE__PKT_MAX - 4)
/* Payload per packet for side-band-64k and the old side-band (1000-byte
 * packets), the band byte excluded. */
#define GROVE__SIDEBAND64K_DATA_MAX (GROVE__PKT_MAX - 5)
#define GROVE__SIDEBAND_DATA_MAX (1000 - 5)

typedef enum {
	GROVE__PKT_DATA = 0,
	GROVE__PKT_FLUSH = 1,
	GROVE__PKT_DELIM = 2,
	GROVE__PKT_RESPONSE_END = 3
} grove__pkt_kind;

typedef struct {
	grove__pkt_kind kind;
	const char *data; /* payload (DATA only), valid until the next read */
	size_t len;
} grove__pkt;

typedef struct {
	char hdr[4];
	size_t hdr_have;
	size_t want;      /* payload length of the packet being assembled */
	size_t have;      /* payload bytes assembled so far */
	char *buf;        /* GROVE__PKT_DATA_MAX + 1 bytes, allocated lazily */
} grove__pkt_reader;

#define GROVE__PKT_READER_INIT { { 0 }, 0, 0, 0, NULL }

/*
 * Takes bytes from data[0..len).  Returns 1 with *out filled when a packet
 * is complete (*consumed says how many bytes were used; call again with
 * the rest), 0 when every byte was consumed and no packet is complete yet,
 * or GROVE_EINVALID for a bad length (not hex, 0003, over 65520).  After
 * an error the reader is unusable until grove__pkt_reader_reset.  DATA
 * payloads are NUL-terminated in the reader's buffer when they were
 * copied, and may point into `data` otherwise.
 */
int grove__pkt_read(grove__pkt_reader *r, const void *data, size_t len, size_t *consumed,
	grove__pkt *out);
/* 1 when bytes of an unfinished packet are held (input ended mid-packet). */
int grove__pkt_reader_pending(const grove__pkt_reader *r);
void grove__pkt_reader_reset(grove__pkt_reader *r);
void grove__pkt_reader_dispose(grove__pkt_reader *r);

/* Parses a 4-digit hex length; -1 if any digit is not hex. */
long grove__pkt_parse_len(const char hdr[4]);

/* Writers: each appends one framed packet (GROVE_EINVALID if too long). */
int grove__pkt_write(grove__sbuf *b, const void *data, size_t len);
int grove__pkt_puts(grove__sbuf *b, const char *s);
int grove__pkt_printf(grove__sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int grove__pkt_flush(grove__sbuf *b);
int grove__pkt_delim(grove__sbuf *b);
int grove__pkt_response_end(grove__sbuf *b);
/* "ERR <message>\n". */
int grove__pkt_error(grove__sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Data on a side-band (1 data, 2 progress, 3 fatal error), split into as
 * many packets as needed; max_data is GROVE__SIDEBAND(64K)_DATA_MAX. */
int grove__pkt_sideband(grove__sbuf *b, int band, const void *data, size_t len, size_t max_data);

/* Strips one trailing "\n" from a payload: returns the new length. */
size_t grove__pkt_chomp(const char *data, size_t len);

#endif
