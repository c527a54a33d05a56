"""Looking inside a trained generator: 2-D maps, inversion and EM-refitted priors,
interpolation, refinement with the critic, and the mixture editor's arithmetic."""
