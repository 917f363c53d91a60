#pragma once
// The whole engine in one include: sr/engine.hpp (tensors, autograd, ops, layers, optimizers,
// models and model files, metrics and inference) plus image files (sr/io/image.hpp), so it needs
// the CMake target sr::image. Training (sr/train/trainer.hpp) and the data pipeline (sr/data/)
// are included on their own; they read image files too.
#include "sr/engine.hpp"
#include "sr/io/image.hpp"
