# SPDX-License-Identifier: MIT
# placeholder: filled in by its owner
