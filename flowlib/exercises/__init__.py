"""Checkers for the chapters' exercises: pass your answer, get a verdict.

A checker prints a short confirmation when the answer is right and raises an
``AssertionError`` that says what is wrong (and on which input) when it is not. Each
code exercise starts from a cell whose body is ``...``; run as it is, its checker says
that the exercise is not attempted yet, so a notebook runs from top to bottom before
the reader has filled anything in.

>>> import torch
>>> check_scaled_uniform_density(
...     lambda y: torch.where((y >= 0) & (y <= 2), 0.5, 0.0))
Correct: p_Y(y) = 1/2 on [0, 2] and 0 elsewhere, so it integrates to 1.
>>> def density_of_2x(y):
...     ...  # your code here
>>> check_scaled_uniform_density(density_of_2x)
Not attempted yet: fill in density_of_2x and run the cell again.
"""

from .chapter0 import (check_logit_normal_log_prob)
from .chapter1 import (check_scaled_uniform_density, check_flow_log_likelihood,
                       check_bisection, check_best_affine, check_non_monotone_mass)
from .chapter2 import (check_ar2d_log_density, check_ar2d_sampling,
                       check_triangular_log_det, check_uniform_moment_error)
from .chapter3 import (check_gaussian_ar_covariance, check_made_masks,
                       check_pixelcnn_mask, check_maf_sampling)
from .chapter4 import (check_checkerboard, check_conv1x1_log_det,
                       check_coupling_inverse, check_factored_dims, check_squeeze)
from .chapter5 import (check_bits_per_dim, check_logit_log_det, check_jensen_gap,
                       check_iw_bound, check_cell_probability)
from .chapter6 import (check_rq_derivative, check_rq_inverse, check_dsf_derivative,
                       check_spline_parameters)
from .chapter7 import (check_planar_log_det, check_planar_constraint, check_fixed_point,
                       check_roulette, check_log_det_series)
from .chapter8 import (check_linear_log_det, check_euler_augmented, check_rk4_step,
                       check_hutchinson_variance, check_linear_cnf_density)
from .chapter9 import (check_gaussian_elbo, check_iaf_log_density,
                       check_iaf_density_elsewhere, check_missing_mode,
                       check_moment_matching)
from .chapter10 import check_break_even, check_time_to_level

__all__ = ["check_logit_normal_log_prob", "check_scaled_uniform_density",
    "check_flow_log_likelihood", "check_bisection", "check_best_affine",
    "check_non_monotone_mass", "check_ar2d_log_density", "check_ar2d_sampling",
    "check_triangular_log_det", "check_uniform_moment_error",
    "check_gaussian_ar_covariance", "check_made_masks", "check_pixelcnn_mask",
    "check_maf_sampling", "check_checkerboard", "check_conv1x1_log_det",
    "check_coupling_inverse", "check_factored_dims", "check_squeeze",
    "check_bits_per_dim", "check_logit_log_det", "check_jensen_gap", "check_iw_bound",
    "check_cell_probability", "check_rq_derivative", "check_rq_inverse",
    "check_dsf_derivative", "check_spline_parameters", "check_planar_log_det",
    "check_planar_constraint", "check_fixed_point", "check_roulette",
    "check_log_det_series", "check_linear_log_det", "check_euler_augmented",
    "check_rk4_step", "check_hutchinson_variance", "check_linear_cnf_density",
    "check_gaussian_elbo", "check_iaf_log_density", "check_iaf_density_elsewhere",
    "check_missing_mode", "check_moment_matching",
    "check_time_to_level", "check_break_even"]
