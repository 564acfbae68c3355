#include "vmconfig.h"
