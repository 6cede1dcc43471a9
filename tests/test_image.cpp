// Decoding, probing, resizing and normalisation. Every fixture is written by the test itself:
// with cv::imwrite, byte patches of it, or (for what OpenCV cannot write) tiny PIL-made files
// embedded below; PIL's resizes are files in tests/fixtures/pil_resize.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <functional>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "image_fixtures.h"
#include "test_util.h"
#include "tl/image.h"

namespace {

using tl::test::bytes_of;
using tl::test::encode;
using tl::test::kCmykJpeg;
using tl::test::kPalettePng;
using tl::test::noise;
using tl::test::put_be32;
using tl::test::TempDir;
using tl::test::write_text;

constexpr int64_t kLimit = 100000000;  // data.max_pixels default

// Writes `bytes` to a file `name` in `dir` and returns its path.
std::string put(const TempDir& dir, const std::string& name, const std::string& bytes) {
  write_text(dir.path() / name, bytes);
  return dir.str(name);
}

// The message of the ImageError that `f` throws, or "(no error)".
std::string image_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const tl::ImageError& e) {
    return e.what();
  }
  return "(no error)";
}

std::string probe_error(const std::string& path, int64_t max_pixels = kLimit) {
  return image_error([&] { tl::probe_image(path, max_pixels); });
}

std::string decode_error(const std::string& path, int64_t max_pixels = kLimit) {
  return image_error([&] { tl::decode_image(path, max_pixels); });
}

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

void put_be16(std::string& bytes, size_t at, uint32_t v) {
  bytes[at] = static_cast<char>(v >> 8);
  bytes[at + 1] = static_cast<char>(v);
}

// Inserts an EXIF APP1 segment holding only an Orientation tag right after the SOI marker.
std::string with_exif_orientation(const std::string& jpeg, uint8_t orientation) {
  const char app1[] = {'\xFF', '\xE1',
                       0,      34,  // APP1, length 34
                       'E',    'x',
                       'i',    'f',
                       0,      0,  // EXIF header
                       'M',    'M',
                       0,      42,
                       0,      0,
                       0,      8,  // big-endian TIFF header, IFD at 8
                       0,      1,  // one entry
                       1,      0x12,
                       0,      3,
                       0,      0,
                       0,      1,  // Orientation, SHORT, count 1
                       0,      static_cast<char>(orientation),
                       0,      0,  // value
                       0,      0,
                       0,      0};  // no next IFD
  return jpeg.substr(0, 2) + std::string(app1, sizeof app1) + jpeg.substr(2);
}

cv::Vec3b at(const cv::Mat& m, int y, int x) { return m.at<cv::Vec3b>(y, x); }

bool near(const cv::Vec3b& a, const cv::Vec3b& b, int tolerance) {
  for (int c = 0; c < 3; ++c)
    if (std::abs(a[c] - b[c]) > tolerance) return false;
  return true;
}

const cv::Scalar kRedBgr(0, 0, 255);
const cv::Scalar kGreenBgr(0, 255, 0);
const cv::Scalar kBlueBgr(255, 0, 0);
const cv::Vec3b kRed(255, 0, 0);
const cv::Vec3b kGreen(0, 255, 0);
const cv::Vec3b kBlue(0, 0, 255);

// ---- probe_image: bad files ----

TEST(ImageProbe, TruncatedJpegIsRejected) {
  TempDir dir;
  const std::string jpeg = encode(".jpg", noise(128, 128), {cv::IMWRITE_JPEG_QUALITY, 95});
  const std::string whole = put(dir, "whole.jpg", jpeg);
  const std::string half = put(dir, "half.jpg", jpeg.substr(0, jpeg.size() / 2));
  EXPECT_EQ(probe_error(whole), "(no error)");
  EXPECT_TRUE(contains(probe_error(half), "truncated JPEG (no end-of-image marker)"));
  EXPECT_TRUE(contains(decode_error(half), "truncated"));
}

TEST(ImageProbe, JpegWithPaddingAfterEndMarkerIsAccepted) {
  TempDir dir;
  const std::string path = put(dir, "padded.jpg", encode(".jpg", noise(16, 16)) + std::string(200, '\0'));
  EXPECT_EQ(tl::decode_image(path, kLimit).size(), cv::Size(16, 16));
}

TEST(ImageProbe, TruncatedPngIsRejected) {
  TempDir dir;
  const std::string png = encode(".png", noise(64, 64));
  EXPECT_TRUE(contains(probe_error(put(dir, "half.png", png.substr(0, png.size() / 2))), "truncated PNG"));
}

TEST(ImageProbe, EmptyFileIsRejected) {
  TempDir dir;
  EXPECT_TRUE(contains(probe_error(put(dir, "empty.jpg", "")), "empty file"));
}

TEST(ImageProbe, TextAndHtmlNamedAsImagesAreRejected) {
  TempDir dir;
  const std::string text = put(dir, "notes.jpg", "just some text\n");
  const std::string html = put(dir, "page.png", "<!DOCTYPE html><html><body>404 Not Found</body></html>\n");
  EXPECT_TRUE(contains(probe_error(text), "not an image (unrecognised file signature)"));
  EXPECT_TRUE(contains(probe_error(html), "not an image (unrecognised file signature)"));
  EXPECT_TRUE(contains(decode_error(html), "not an image"));
}

TEST(ImageProbe, MissingFileAndDirectoryAreRejected) {
  TempDir dir;
  EXPECT_TRUE(contains(probe_error(dir.str("missing.jpg")), "No such file"));
  EXPECT_TRUE(contains(probe_error(dir.str()), "not a regular file"));
}

TEST(ImageProbe, UnreadableFileIsRejected) {
  TempDir dir;
  const std::string path = put(dir, "locked.png", encode(".png", noise(4, 4)));
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  tl::test::WithoutPermissionOverride as_a_user;  // root could read it anyway
  EXPECT_TRUE(contains(probe_error(path), "Permission denied"));
}

TEST(ImageProbe, HugePngHeaderIsRejectedWithoutDecoding) {
  TempDir dir;
  std::string png = encode(".png", noise(1, 1));
  put_be32(png, 16, 100000);  // IHDR width and height; the CRC is left stale on purpose
  put_be32(png, 20, 100000);
  const std::string path = put(dir, "huge.png", png);
  const std::string expected =
      "image is 100000x100000 = 10000000000 pixels, over the limit of 100000000 (data.max_pixels)";
  EXPECT_EQ(probe_error(path), expected);
  EXPECT_EQ(decode_error(path), expected);
}

TEST(ImageProbe, HugeJpegHeaderIsFoundPastLargeMetadata) {
  TempDir dir;
  std::string jpeg = encode(".jpg", noise(16, 16));
  const size_t sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  put_be16(jpeg, sof + 5, 30000);  // height
  put_be16(jpeg, sof + 7, 30000);  // width
  // Two 60 KB APP15 segments before the frame header, as large ICC profiles or XMP produce.
  std::string app(60000, 'x');
  app.replace(0, 4, "\xFF\xEF\x00\x00", 4);
  put_be16(app, 2, 60000 - 2);
  jpeg.insert(2, app + app);
  EXPECT_TRUE(
      contains(probe_error(put(dir, "huge.jpg", jpeg)), "image is 30000x30000 = 900000000 pixels, over the limit"));
}

TEST(ImageProbe, ZeroSizeHeaderIsRejected) {
  TempDir dir;
  std::string png = encode(".png", noise(1, 1));
  put_be32(png, 16, 0);
  EXPECT_TRUE(contains(probe_error(put(dir, "zero.png", png)), "zero width or height"));
}

TEST(ImageProbe, HeaderSizeOfEachFormatMeetsTheLimit) {
  TempDir dir;
  const cv::Mat bgr = noise(30, 40);
  const std::vector<std::pair<std::string, std::string>> files = {
      {"a.png", encode(".png", bgr)},
      {"a.jpg", encode(".jpg", bgr)},
      {"a.bmp", encode(".bmp", bgr)},
      {"lossy.webp", encode(".webp", bgr, {cv::IMWRITE_WEBP_QUALITY, 90})},  // VP8
      {"lossless.webp", encode(".webp", bgr)},                               // VP8L
      {"alpha.webp", encode(".webp", noise(30, 40, CV_8UC4))},               // VP8X
      {"a.tiff", encode(".tiff", bgr)},
  };
  for (const auto& [name, bytes] : files) {
    const std::string path = put(dir, name, bytes);
    EXPECT_TRUE(contains(probe_error(path, 1199), "image is 40x30 = 1200 pixels, over the limit of 1199")) << name;
    EXPECT_EQ(probe_error(path, 1200), "(no error)") << name;
    EXPECT_EQ(tl::decode_image(path, 1200).size(), cv::Size(40, 30)) << name;
  }
}

// libjpeg skips stray bytes before a marker: a 5 KB JPEG whose frame header came after some was
// decoded into a 20000x20000 image (1.3 GB) before the limit applied. TIFF sizes come from the
// first directory, in either byte order.
TEST(ImageProbe, HugeSizesAreFoundPastStrayJpegBytesAndInBigEndianTiff) {
  TempDir dir;
  std::string jpeg = encode(".jpg", noise(8, 8));
  const size_t sof = jpeg.find("\xFF\xC0");
  put_be16(jpeg, sof + 5, 20000);
  put_be16(jpeg, sof + 7, 20000);
  jpeg.insert(jpeg.find("\xFF\xDB"), std::string(5000, '\x00'));
  const std::string expected = "image is 20000x20000 = 400000000 pixels, over the limit of 100000000 (data.max_pixels)";
  EXPECT_EQ(probe_error(put(dir, "stray.jpg", jpeg)), expected);
  EXPECT_EQ(decode_error(dir.str("stray.jpg")), expected);
  // "MM", version 42, first directory at 8 holding ImageWidth (SHORT) and ImageLength (LONG).
  const std::string tiff(
      "MM\0*\0\0\0\x08\0\x02"
      "\x01\x00\0\x03\0\0\0\x01\x75\x30\0\0"
      "\x01\x01\0\x04\0\0\0\x01\0\0\x75\x30"
      "\0\0\0\0",
      38);
  EXPECT_TRUE(contains(probe_error(put(dir, "huge.tiff", tiff)), "image is 30000x30000"));
}

// ---- decode_image: every input becomes 8-bit RGB ----

TEST(ImageDecode, CorruptDataCannotBeDecoded) {
  TempDir dir;
  std::string png = encode(".png", noise(32, 32));
  const size_t data = png.find("IDAT") + 4;
  for (size_t i = data; i < data + 64; ++i) png[i] = static_cast<char>(png[i] ^ 0x5A);
  EXPECT_TRUE(contains(decode_error(put(dir, "corrupt.png", png)), "cannot decode"));
}

TEST(ImageDecode, OnePixelImagesWork) {
  TempDir dir;
  for (const std::string name : {"one.png", "one.jpg"}) {
    const cv::Mat rgb =
        tl::decode_image(put(dir, name, encode(name.substr(3), cv::Mat(1, 1, CV_8UC3, kGreenBgr))), kLimit);
    EXPECT_EQ(rgb.type(), CV_8UC3);
    EXPECT_EQ(rgb.size(), cv::Size(1, 1));
    EXPECT_TRUE(near(at(rgb, 0, 0), kGreen, 3)) << name << " " << at(rgb, 0, 0);
  }
}

TEST(ImageDecode, RedStaysRedInRgbOrder) {
  TempDir dir;
  const cv::Mat red(8, 8, CV_8UC3, kRedBgr);  // OpenCV writes BGR
  EXPECT_EQ(at(tl::decode_image(put(dir, "red.png", encode(".png", red)), kLimit), 4, 4), kRed);
  EXPECT_TRUE(near(at(tl::decode_image(put(dir, "red.jpg", encode(".jpg", red)), kLimit), 4, 4), kRed, 3));
}

TEST(ImageDecode, GreyscaleBecomesThreeEqualChannels) {
  TempDir dir;
  const cv::Mat grey = noise(16, 16, CV_8UC1);
  for (const std::string ext : {".png", ".jpg"}) {
    const cv::Mat rgb = tl::decode_image(put(dir, "grey" + ext, encode(ext, grey)), kLimit);
    ASSERT_EQ(rgb.type(), CV_8UC3) << ext;
    std::vector<cv::Mat> channels;
    cv::split(rgb, channels);
    EXPECT_EQ(cv::norm(channels[0], channels[1], cv::NORM_INF), 0) << ext;
    EXPECT_EQ(cv::norm(channels[0], channels[2], cv::NORM_INF), 0) << ext;
    if (ext == ".png") EXPECT_EQ(cv::norm(channels[0], grey, cv::NORM_INF), 0);
  }
}

TEST(ImageDecode, AlphaIsDropped) {
  TempDir dir;
  cv::Mat bgra(1, 2, CV_8UC4);
  bgra.at<cv::Vec4b>(0, 0) = {0, 0, 255, 0};    // fully transparent red keeps its colour
  bgra.at<cv::Vec4b>(0, 1) = {255, 0, 0, 128};  // half-transparent blue
  const cv::Mat rgb = tl::decode_image(put(dir, "alpha.png", encode(".png", bgra)), kLimit);
  ASSERT_EQ(rgb.type(), CV_8UC3);
  EXPECT_EQ(at(rgb, 0, 0), kRed);
  EXPECT_EQ(at(rgb, 0, 1), kBlue);
}

TEST(ImageDecode, PalettePngIsExpanded) {
  TempDir dir;
  const cv::Mat rgb = tl::decode_image(put(dir, "palette.png", bytes_of(kPalettePng, sizeof kPalettePng)), kLimit);
  ASSERT_EQ(rgb.type(), CV_8UC3);
  EXPECT_EQ(at(rgb, 0, 0), kRed);
  EXPECT_EQ(at(rgb, 0, 1), kGreen);
  EXPECT_EQ(at(rgb, 1, 0), kBlue);
  EXPECT_EQ(at(rgb, 1, 1), cv::Vec3b(255, 255, 255));
}

TEST(ImageDecode, SixteenBitIsScaledNotTruncated) {
  TempDir dir;
  cv::Mat bgr16(1, 2, CV_16UC3);
  bgr16.at<cv::Vec3w>(0, 0) = {32768, 0, 65535};  // B, G, R
  bgr16.at<cv::Vec3w>(0, 1) = {511, 25700, 0};    // 511 / 257 = 1.99: truncating the low byte gives 1
  const cv::Mat rgb = tl::decode_image(put(dir, "deep.png", encode(".png", bgr16)), kLimit);
  ASSERT_EQ(rgb.type(), CV_8UC3);
  EXPECT_EQ(at(rgb, 0, 0), cv::Vec3b(255, 0, 128));
  EXPECT_EQ(at(rgb, 0, 1), cv::Vec3b(0, 100, 2));

  const cv::Mat grey16(2, 2, CV_16UC1, cv::Scalar(65535));
  EXPECT_EQ(at(tl::decode_image(put(dir, "deep_grey.png", encode(".png", grey16)), kLimit), 1, 1),
            cv::Vec3b(255, 255, 255));
}

TEST(ImageDecode, CmykJpegBecomesRgb) {
  TempDir dir;
  const cv::Mat rgb = tl::decode_image(put(dir, "cmyk.jpg", bytes_of(kCmykJpeg, sizeof kCmykJpeg)), kLimit);
  ASSERT_EQ(rgb.type(), CV_8UC3);
  EXPECT_EQ(rgb.size(), cv::Size(8, 8));
  EXPECT_TRUE(near(at(rgb, 4, 4), cv::Vec3b(255, 127, 0), 4)) << at(rgb, 4, 4);
}

TEST(ImageDecode, ExifOrientationIsApplied) {
  TempDir dir;
  cv::Mat bgr(20, 40, CV_8UC3, kRedBgr);  // stored 40 wide: left half red, right half blue
  bgr.colRange(20, 40).setTo(kBlueBgr);
  const std::string jpeg = encode(".jpg", bgr, {cv::IMWRITE_JPEG_QUALITY, 100});
  // Orientation 6: the stored image must be turned 90 degrees clockwise, so left becomes top.
  for (int64_t target : {0, 10}) {
    const cv::Mat rgb = tl::decode_image(put(dir, "rotated.jpg", with_exif_orientation(jpeg, 6)), kLimit, target);
    ASSERT_EQ(rgb.size(), target == 0 ? cv::Size(20, 40) : cv::Size(10, 20)) << target;
    EXPECT_TRUE(near(at(rgb, 2, rgb.cols / 2), kRed, 6)) << at(rgb, 2, rgb.cols / 2);
    EXPECT_TRUE(near(at(rgb, rgb.rows - 3, rgb.cols / 2), kBlue, 6)) << at(rgb, rgb.rows - 3, rgb.cols / 2);
  }
}

TEST(ImageDecode, LargeJpegIsDecodedAtReducedScale) {
  TempDir dir;
  const std::string path = put(dir, "big.jpg", encode(".jpg", noise(800, 1000)));
  EXPECT_EQ(tl::decode_image(path, kLimit, 0).size(), cv::Size(1000, 800));
  EXPECT_EQ(tl::decode_image(path, kLimit, 224).size(), cv::Size(500, 400));   // 1/4 would give 200 < 224
  EXPECT_EQ(tl::decode_image(path, kLimit, 100).size(), cv::Size(125, 100));   // 1/8
  EXPECT_EQ(tl::decode_image(path, kLimit, 401).size(), cv::Size(1000, 800));  // 1/2 would give 400 < 401
  // Only JPEG has reduced decoding.
  const std::string png = put(dir, "big.png", encode(".png", noise(800, 1000)));
  EXPECT_EQ(tl::decode_image(png, kLimit, 100).size(), cv::Size(1000, 800));
}

TEST(ImageDecode, LoadImageDecodesAndResizes) {
  TempDir dir;
  const std::string path = put(dir, "photo.jpg", encode(".jpg", noise(200, 300)));
  for (const auto& [name, mode] : tl::names_of<tl::ResizeMode>()) {
    const cv::Mat rgb = tl::load_image(path, 64, mode, kLimit);
    EXPECT_EQ(rgb.size(), cv::Size(64, 64)) << name;
    EXPECT_EQ(rgb.type(), CV_8UC3) << name;
  }
}

// ---- resize_image ----

// 200 wide, 100 high: left quarter red, middle half green, right quarter blue (RGB).
cv::Mat three_bands(bool tall = false) {
  cv::Mat rgb(100, 200, CV_8UC3, cv::Scalar(0, 255, 0));
  rgb.colRange(0, 50).setTo(cv::Scalar(255, 0, 0));
  rgb.colRange(150, 200).setTo(cv::Scalar(0, 0, 255));
  if (tall) cv::transpose(rgb, rgb);  // 100 wide, 200 high: bands from top to bottom
  return rgb;
}

TEST(ImageResize, StretchKeepsEverything) {
  const cv::Mat out = tl::resize_image(three_bands(), 50, tl::ResizeMode::Stretch);
  ASSERT_EQ(out.size(), cv::Size(50, 50));
  EXPECT_EQ(at(out, 25, 2), kRed);
  EXPECT_EQ(at(out, 25, 25), kGreen);
  EXPECT_EQ(at(out, 25, 47), kBlue);
}

TEST(ImageResize, ShorterCenterCropKeepsTheMiddle) {
  for (bool tall : {false, true}) {
    const cv::Mat out = tl::resize_image(three_bands(tall), 50, tl::ResizeMode::ShorterCenterCrop);
    ASSERT_EQ(out.size(), cv::Size(50, 50)) << tall;
    // Scaled to 100x50, the crop starts at 25, i.e. original columns 50..149: all green.
    EXPECT_EQ(cv::norm(out, cv::Mat(50, 50, CV_8UC3, cv::Scalar(0, 255, 0)), cv::NORM_INF), 0) << tall;
  }
}

TEST(ImageResize, CropOffsetRoundsHalfToEvenLikeTorchvision) {
  // 198x100 to 50: scaled to 99x50, offset round(24.5) = 24 in Python (25 when rounding half up).
  cv::Mat ramp(100, 198, CV_8UC3);
  for (int x = 0; x < ramp.cols; ++x) ramp.col(x).setTo(cv::Scalar::all(x));
  const cv::Mat out = tl::resize_image(ramp, 50, tl::ResizeMode::ShorterCenterCrop);
  // Scaled column j averages original columns 2j and 2j + 1, so column 24 is 48.5 and 25 is 50.5.
  const int first = at(out, 10, 0)[0];
  EXPECT_TRUE(first == 48 || first == 49) << first;
}

// ---- data.interpolation: PIL's filters, against files PIL wrote (scripts/make_pil_resize_fixtures.py) ----

cv::Mat pil_fixture(const std::string& name) {
  return tl::decode_image(std::string(TL_SOURCE_DIR) + "/tests/fixtures/pil_resize/" + name + ".png", kLimit);
}

TEST(ImageResize, PilFiltersMatchPilExactly) {
  const cv::Mat input = pil_fixture("input");
  ASSERT_EQ(input.size(), cv::Size(97, 61));
  const std::pair<const char*, tl::Interpolation> filters[] = {{"nearest", tl::Interpolation::Nearest},
                                                               {"bilinear", tl::Interpolation::Bilinear},
                                                               {"bicubic", tl::Interpolation::Bicubic}};
  // Shrinking (antialiased), enlarging, one axis only, and unequal factors.
  for (const auto& [name, filter] : filters)
    for (const cv::Size size :
         {cv::Size(32, 20), cv::Size(40, 40), cv::Size(150, 90), cv::Size(97, 30), cv::Size(13, 61)}) {
      const std::string file = std::string(name) + "_" + std::to_string(size.width) + "x" + std::to_string(size.height);
      const cv::Mat out = tl::resample(input, size.width, size.height, filter);
      EXPECT_EQ(cv::norm(out, pil_fixture(file), cv::NORM_INF), 0) << file;
    }
}

TEST(ImageResize, ShorterCenterCropMatchesTorchvisionOnPilImages) {
  const cv::Mat input = pil_fixture("input");
  EXPECT_EQ(cv::norm(tl::resize_image(input, 32, tl::ResizeMode::ShorterCenterCrop, tl::Interpolation::Bilinear),
                     pil_fixture("torchvision_bilinear_32"), cv::NORM_INF),
            0);
  EXPECT_EQ(cv::norm(tl::resize_image(input, 32, tl::ResizeMode::ShorterCenterCrop, tl::Interpolation::Bicubic),
                     pil_fixture("torchvision_bicubic_32"), cv::NORM_INF),
            0);
}

TEST(ImageResize, AreaIsNotPil) {
  // The default filter stays OpenCV's: this is the difference data.interpolation exists for.
  const cv::Mat input = pil_fixture("input");
  EXPECT_GT(cv::norm(tl::resample(input, 32, 20, tl::Interpolation::Area), pil_fixture("nearest_32x20"), cv::NORM_INF),
            0);
  EXPECT_GT(cv::norm(tl::resample(input, 32, 20, tl::Interpolation::Area), pil_fixture("bilinear_32x20"), cv::NORM_INF),
            0);
}

TEST(ImageDecode, OnlyAreaDecodesJpegsAtReducedScale) {
  EXPECT_EQ(tl::decode_target(224, tl::Interpolation::Area), 224);
  for (auto filter : {tl::Interpolation::Nearest, tl::Interpolation::Bilinear, tl::Interpolation::Bicubic})
    EXPECT_EQ(tl::decode_target(224, filter), 0) << tl::name_of(filter);
}

TEST(ImageResize, OutputIsAlwaysSizeBySize) {
  for (const cv::Size in :
       {cv::Size(1, 1), cv::Size(3, 1000), cv::Size(1000, 3), cv::Size(224, 224), cv::Size(500, 375)}) {
    for (const auto& [name, mode] : tl::names_of<tl::ResizeMode>())
      for (const auto& [filter_name, filter] : tl::names_of<tl::Interpolation>()) {
        const cv::Mat out = tl::resize_image(cv::Mat(in, CV_8UC3, cv::Scalar(1, 2, 3)), 224, mode, filter);
        EXPECT_EQ(out.size(), cv::Size(224, 224)) << in << " " << name << " " << filter_name;
        EXPECT_EQ(at(out, 100, 100), cv::Vec3b(1, 2, 3)) << in << " " << name << " " << filter_name;
      }
  }
}

// ---- write_normalized / image_to_tensor ----

// One pixel R=255, G=0, B=128 normalised with `norm`.
std::array<float, 3> normalized_pixel(const tl::Normalization& norm) {
  const cv::Mat rgb(1, 1, CV_8UC3, cv::Scalar(255, 0, 128));
  std::array<float, 3> out{};
  tl::write_normalized(rgb, norm, out.data());
  return out;
}

void expect_near3(const std::array<float, 3>& got, const std::array<double, 3>& expected) {
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(got[c], expected[c], 1e-5) << "channel " << c;
}

TEST(ImageNormalize, ImagenetPreset) {
  expect_near3(normalized_pixel(tl::normalization_preset(tl::NormalizePreset::ImageNet)),
               {(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (128 / 255.0 - 0.406) / 0.225});
}

TEST(ImageNormalize, CaffePresetIsBgrMeanSubtractedUnscaled) {
  expect_near3(normalized_pixel(tl::normalization_preset(tl::NormalizePreset::Caffe)),
               {128 - 103.939, 0 - 116.779, 255 - 123.68});
}

TEST(ImageNormalize, UnitPreset) {
  expect_near3(normalized_pixel(tl::normalization_preset(tl::NormalizePreset::Unit)), {1, 0, 128 / 255.0});
}

TEST(ImageNormalize, CustomMeanStdScaleAndOrder) {
  tl::Normalization norm;
  norm.scale = 2;
  norm.mean = {10, 20, 30};
  norm.std = {2, 4, 8};
  expect_near3(normalized_pixel(norm), {(510 - 10) / 2.0, (0 - 20) / 4.0, (256 - 30) / 8.0});
  norm.channel_order = "BGR";
  expect_near3(normalized_pixel(norm), {(256 - 10) / 2.0, (0 - 20) / 4.0, (510 - 30) / 8.0});
}

TEST(ImageNormalize, TensorIsPlanarChw) {
  tl::Normalization raw;
  raw.scale = 1;
  raw.mean = {0, 0, 0};
  raw.std = {1, 1, 1};
  cv::Mat big(4, 5, CV_8UC3);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 5; ++x) big.at<cv::Vec3b>(y, x) = cv::Vec3b(y * 10 + x, 100 + y * 10 + x, 200 + x);
  const cv::Mat roi = big(cv::Rect(1, 1, 3, 2));  // not continuous in memory
  const torch::Tensor t = tl::image_to_tensor(roi, raw);
  ASSERT_EQ(t.sizes().vec(), (std::vector<int64_t>{1, 3, 2, 3}));
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x)
      for (int c = 0; c < 3; ++c)
        EXPECT_EQ(t[0][c][y][x].item<float>(), roi.at<cv::Vec3b>(y, x)[c]) << y << "," << x << "," << c;
}

TEST(ImageNormalize, RejectsWrongInput) {
  float out[4];
  EXPECT_THROW(tl::write_normalized(cv::Mat(1, 1, CV_8UC4), tl::Normalization{}, out), std::invalid_argument);
  tl::Normalization odd;
  odd.channel_order = "GBR";
  EXPECT_THROW(tl::write_normalized(cv::Mat(1, 1, CV_8UC3), odd, out), std::invalid_argument);
}

}  // namespace
