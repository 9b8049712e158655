/* Region and DCT-scaled JPEG decoding with libjpeg-turbo's libjpeg API. */
#pragma once
#include <stddef.h>

#define SND_JPEG_MSG 200

/* Reads the header: size and colour components. Returns 0, or -1 with msg set. */
int snd_jpeg_header(const unsigned char *buf, size_t len, int *w, int *h, int *comps, char *msg);

/* Decodes at least the region [x0,x1) x [y0,y1) of the image scaled by
 * num/8 (coordinates in the scaled image) as RGB, or gray for grayscale
 * JPEGs, into out (capacity cap bytes). On success returns 0 and sets the
 * decoded region's left column, width, top row, row count and channels;
 * rows are packed (stride = width * channels). Returns -1 with msg set on a
 * decoding error (a truncated file included) and -2 when cap is too small. */
int snd_jpeg_decode(const unsigned char *buf, size_t len, int num, int x0, int y0, int x1, int y1,
                    unsigned char *out, size_t cap, int *rx, int *rw, int *ry, int *rh, int *channels, char *msg);

/* Encodes packed RGB (or gray when channels is 1) with TurboJPEG at quality
 * q (4:2:0). On success returns 0 and sets *out (free with snd_jpeg_free)
 * and *out_len. */
int snd_jpeg_encode(const unsigned char *pix, int w, int h, int channels, int q, unsigned char **out,
                    unsigned long *out_len, char *msg);
void snd_jpeg_free(unsigned char *p);
