// The run-time fronts: errseg::Segmenter and errseg::Clip made from errseg::ModelParams
// {model, device, precision, threads}; the device is a value, not a template parameter.
#pragma once
#include "front/clip.hpp"
#include "front/params.hpp"
#include "front/segmenter.hpp"
