/* SPDX-License-Identifier: MIT */
#include "osa_test.h"
int main(void) { OSA_TEST_END(); }
