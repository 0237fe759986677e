// The umbrella header: the whole public API of minicnn (core, layers, optimizers, data sets, trainer).
// Example: #include <minicnn/minicnn.h>, then link minicnn::minicnn (find_package(minicnn CONFIG REQUIRED)).
#pragma once

// Level 0: tensors, the layer contract and its gradient checker, the model, loss, file formats.
#include <minicnn/check.h>
#include <minicnn/device.h>
#include <minicnn/file_io.h>
#include <minicnn/gradcheck.h>
#include <minicnn/image_io.h>
#include <minicnn/init.h>
#include <minicnn/layer.h>
#include <minicnn/loss.h>
#include <minicnn/model.h>
#include <minicnn/npy.h>
#include <minicnn/random.h>
#include <minicnn/recipe.h>
#include <minicnn/runtime.h>
#include <minicnn/safetensors.h>
#include <minicnn/tensor.h>
#include <minicnn/window.h>

// Level 1: layers and the spec parser, optimizers and schedules, data sets and the loader.
#include <minicnn/batchnorm2d.h>
#include <minicnn/conv2d.h>
#include <minicnn/dropout.h>
#include <minicnn/flatten.h>
#include <minicnn/linear.h>
#include <minicnn/pool2d.h>
#include <minicnn/pool2d_coverage.h>
#include <minicnn/pool2d_window.h>
#include <minicnn/registry.h>
#include <minicnn/relu.h>

#include <minicnn/adam.h>
#include <minicnn/lr_scheduler.h>
#include <minicnn/optimizer.h>
#include <minicnn/sgd.h>

#include <minicnn/cifar10.h>
#include <minicnn/dataset.h>
#include <minicnn/image_folder.h>
#include <minicnn/loader.h>
#include <minicnn/mnist.h>

// Level 2: the trainer, checkpoints and the pooling study.
#include <minicnn/checkpoint.h>
#include <minicnn/metrics.h>
#include <minicnn/optimizer_factory.h>
#include <minicnn/study.h>
#include <minicnn/trainer.h>
