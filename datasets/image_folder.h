// Class folders of images (DIR/train/<class>/, DIR/test/<class>/) decoded once into an ImageDataset, and
// the channel conversion and bilinear resize that `minicnn predict` applies to single images too.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <minicnn/dataset.h>
#include <minicnn/image_io.h>

namespace minicnn {

/// True for the names the image-folder reader takes: ending in .png, .jpg, .jpeg or .bmp in any letter
/// case (cameras write .JPG), and not hidden (a leading '.', as editors' and other tools' side files have).
bool is_image_file_name(const std::string& name);

/// A decoded image (H, W, C) as planar bytes (C, H, W) with `channels` 1 or 3: alpha is dropped, grey is
/// replicated into R, G and B, and colour becomes grey by the luma weights 0.299 R + 0.587 G + 0.114 B
/// (PIL's "L" conversion, which torchvision's Grayscale uses), rounded to nearest.
std::vector<uint8_t> to_planar(const DecodedImage& image, int64_t channels);

/// Resizes planar images `src` (C, H, W) into `dst` (C, OH, OW): bilinear interpolation between pixel
/// centres (torch's align_corners=False: output pixel i samples the source at (i + 0.5) * H / OH - 0.5,
/// clamped at the borders); when shrinking, the triangle filter widens by the scale factor so every source
/// pixel contributes (area-correct antialiasing, as PIL and torchvision's antialias=True). Separable, in
/// float, rounded to nearest; a constant image stays constant.
void resize_bilinear(const uint8_t* src, int64_t C, int64_t H, int64_t W, uint8_t* dst, int64_t OH,
                     int64_t OW);

/// Loads DIR/train/<class>/ and DIR/test/<class>/. The classes are the sub-folders of train/ in sorted
/// (byte) order, and test/ must hold the same ones; each class folder's image files (see
/// is_image_file_name(); sub-folders are not searched) are taken in sorted order. The images are decoded
/// once, in parallel (OpenMP), into uint8 (C, H, W) with C = 3 when any training image has colour, else 1
/// (grey images of a colour set are replicated, colour test images of a grey set turned grey; see
/// to_planar()). Every image must have the size of the first training image unless `options` asks for a
/// resize, which then applies to every image. Errors name the folder or file. The data set is named after
/// DIR. Decoding keeps each image until all are read, so loading briefly needs up to twice the data set's
/// bytes. Example: DatasetSplit d = load_image_folder("data/cifar10-jpeg");
DatasetSplit load_image_folder(const std::string& dir, const DatasetOptions& options = {});

}  // namespace minicnn
