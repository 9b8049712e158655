#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <turbojpeg.h>

#include "jpeg.h"

/* libjpeg reports fatal errors through error_exit, which must not return:
 * jump back to the entry point instead of letting it call exit(). */
struct snd_err {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
  char *msg;
};

static void snd_error_exit(j_common_ptr c) {
  struct snd_err *e = (struct snd_err *)c->err;
  char text[JMSG_LENGTH_MAX];
  (*c->err->format_message)(c, text);
  snprintf(e->msg, SND_JPEG_MSG, "%s", text);
  longjmp(e->jump, 1);
}

/* Warnings are ignored, except the two that mean the data ran out: Pillow
 * refuses truncated files too, instead of returning grey rows. */
static void snd_emit_message(j_common_ptr c, int level) {
  if (level >= 0) return;
  c->err->num_warnings++;
  if (c->err->msg_code == JWRN_JPEG_EOF || c->err->msg_code == JWRN_HIT_MARKER) {
    struct snd_err *e = (struct snd_err *)c->err;
    snprintf(e->msg, SND_JPEG_MSG, "truncated JPEG data");
    longjmp(e->jump, 1);
  }
}

static void snd_setup(struct jpeg_decompress_struct *d, struct snd_err *e, char *msg) {
  d->err = jpeg_std_error(&e->pub);
  e->pub.error_exit = snd_error_exit;
  e->pub.emit_message = snd_emit_message;
  e->msg = msg;
}

int snd_jpeg_header(const unsigned char *buf, size_t len, int *w, int *h, int *comps, char *msg) {
  struct jpeg_decompress_struct d;
  struct snd_err e;
  snd_setup(&d, &e, msg);
  if (setjmp(e.jump)) {
    jpeg_destroy_decompress(&d);
    return -1;
  }
  jpeg_create_decompress(&d);
  jpeg_mem_src(&d, buf, (unsigned long)len);
  jpeg_read_header(&d, TRUE);
  *w = (int)d.image_width;
  *h = (int)d.image_height;
  *comps = d.num_components;
  jpeg_destroy_decompress(&d);
  return 0;
}

/* Pillow's CMYK to RGB for Adobe (inverted) CMYK, which it assumes for every
 * CMYK JPEG: R = K' - K'*(255-C')/255 with its rounding. */
static void cmyk_to_rgb(const unsigned char *in, unsigned char *out, int n) {
  for (int x = 0; x < n; x++) {
    int nk = in[4 * x + 3];
    for (int c = 0; c < 3; c++) {
      int tmp = (255 - in[4 * x + c]) * nk + 128;
      int v = nk - (((tmp >> 8) + tmp) >> 8);
      out[3 * x + c] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
  }
}

int snd_jpeg_decode(const unsigned char *buf, size_t len, int num, int x0, int y0, int x1, int y1,
                    unsigned char *out, size_t cap, int *rx, int *rw, int *ry, int *rh, int *channels, char *msg) {
  struct jpeg_decompress_struct d;
  struct snd_err e;
  JSAMPROW cmyk = NULL;
  snd_setup(&d, &e, msg);
  if (setjmp(e.jump)) {
    jpeg_destroy_decompress(&d); /* frees pool memory (the CMYK row) too */
    return -1;
  }
  jpeg_create_decompress(&d);
  jpeg_mem_src(&d, buf, (unsigned long)len);
  jpeg_read_header(&d, TRUE);
  int ch = 3;
  switch (d.jpeg_color_space) {
    case JCS_GRAYSCALE:
      d.out_color_space = JCS_GRAYSCALE;
      ch = 1;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      d.out_color_space = JCS_CMYK;
      break;
    default:
      d.out_color_space = JCS_RGB;
  }
  if (num < 1 || num > 8) num = 8;
  d.scale_num = (unsigned int)num;
  d.scale_denom = 8;
  jpeg_start_decompress(&d);
  int W = (int)d.output_width, H = (int)d.output_height;
  if (x0 < 0) x0 = 0;
  if (y0 < 0) y0 = 0;
  if (x1 > W) x1 = W;
  if (y1 > H) y1 = H;
  if (x1 <= x0 || y1 <= y0) {
    x0 = y0 = 0;
    x1 = y1 = 1;
  }
  JDIMENSION cx = (JDIMENSION)x0, cw = (JDIMENSION)(x1 - x0);
  if (cx > 0 || (int)cw < W) jpeg_crop_scanline(&d, &cx, &cw); /* aligns cx down to an iMCU */
  size_t stride = (size_t)cw * ch;
  if (stride * (size_t)(y1 - y0) > cap) {
    jpeg_destroy_decompress(&d);
    return -2;
  }
  if (d.out_color_space == JCS_CMYK) {
    cmyk = (*d.mem->alloc_small)((j_common_ptr)&d, JPOOL_IMAGE, (size_t)cw * 4);
  }
  if (y0 > 0) jpeg_skip_scanlines(&d, (JDIMENSION)y0);
  for (int y = y0; y < y1; y++) {
    JSAMPROW row = out + (size_t)(y - y0) * stride;
    if (jpeg_read_scanlines(&d, cmyk ? &cmyk : &row, 1) != 1) {
      snprintf(msg, SND_JPEG_MSG, "truncated JPEG data");
      longjmp(e.jump, 1);
    }
    if (cmyk) cmyk_to_rgb(cmyk, row, (int)cw);
  }
  if (y1 == H)
    jpeg_finish_decompress(&d);
  else
    jpeg_abort_decompress(&d);
  jpeg_destroy_decompress(&d);
  *rx = (int)cx;
  *rw = (int)cw;
  *ry = y0;
  *rh = y1 - y0;
  *channels = ch;
  return 0;
}

int snd_jpeg_encode(const unsigned char *pix, int w, int h, int channels, int q, unsigned char **out,
                    unsigned long *out_len, char *msg) {
  tjhandle t = tjInitCompress();
  if (!t) {
    snprintf(msg, SND_JPEG_MSG, "%s", tjGetErrorStr());
    return -1;
  }
  *out = NULL;
  *out_len = 0;
  int pf = channels == 1 ? TJPF_GRAY : TJPF_RGB;
  int samp = channels == 1 ? TJSAMP_GRAY : TJSAMP_420;
  int rc = tjCompress2(t, pix, w, 0, h, pf, out, out_len, samp, q, 0);
  if (rc != 0) {
    snprintf(msg, SND_JPEG_MSG, "%s", tjGetErrorStr2(t));
    if (*out) tjFree(*out);
    *out = NULL;
  }
  tjDestroy(t);
  return rc == 0 ? 0 : -1;
}

void snd_jpeg_free(unsigned char *p) { tjFree(p); }
