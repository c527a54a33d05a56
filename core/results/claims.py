"""The seeds' claims as data: which write-up makes each (`writeup_id`: the course's seeds 000–004,
named by their authors' team; not a random seed), the claim in full, and how core/results/findings.py tests it on this project's
models (`kind` and its arguments; see core/results/findings.py)."""
from __future__ import annotations

# The research write-ups the claims come from (the course's seeds 000–004), by their authors' team names
WRITEUPS = {"000": "GANibal", "001": "GANgineers", "002": "Nano Kiwi", "003": "Behaegel, Cornilleau and Lafaye",
            "004": "hooliGANs", "lab": "Latent Lab"}  # "lab": a question this project asks of every model
# Each claim in full, in its write-up's words where it has them (`claim` is the row's short key)
STATEMENTS = {
    "WGAN-GP gives better coverage than weight clipping":
        "WGAN-GP gives better mode coverage and more reliable training than WGAN with weight clipping "
        "(tested here: coverage).",
    "Spectral normalisation is weaker than the gradient penalty":
        "Spectral normalisation trains faster but performs worse than the gradient penalty (tested here: FID and "
        "coverage of WGAN-SN against WGAN-GP).",
    "Gaussian-mixture priors bring no measurable improvement (same WGAN-GP loss)":
        "Gaussian-mixture priors are conceptually promising but offered no measurable improvement in practice "
        "(tested here: the static mixture prior against the plain one, both with the WGAN-GP loss; FID and recall).",
    "Conditional + GMM (GMM-cWGAN-GP) struggles against the conditional WGAN-GP":
        "Conditional WGANs struggled to generate coherent samples and had convergence difficulties when combined "
        "with Gaussian mixtures (tested here: FID of GMM-cWGAN-GP against cWGAN-GP).",
    "DRS filters low-quality samples (precision up)":
        "Discriminator rejection sampling is an effective post-processing step that filters out low-quality "
        "samples (tested here: precision of WGAN-GP's digits before and after DRS, which should rise).",
    "c = 0.01 gives 'a reasonable amount of saturation' of the clipped critic":
        "With weight clipping, c = 0.01 makes a reasonable fraction of the critic's weights saturate (need "
        "clipping): neither too small nor too big a clipping value.",
    "DRS improves FID":
        "Discriminator rejection sampling uses the trained critic to improve the quality of generated samples "
        "without retraining; their best model is WGAN-GP with DRS (tested here: FID before and after DRS).",
    "Target-space DOT improves FID (their 24.12 → 22.64: 20 steps, lr 0.01)":
        "Discriminator optimal transport in the target space improves a WGAN-GP's samples: FID 24.12 → 22.64 "
        "with 20 steps at learning rate 0.01.",
    "A static GM prior improves recall over vanilla":
        "A static Gaussian-mixture prior (fixed means and covariances) improves recall over the vanilla GAN, "
        "though training stays unstable.",
    "Smaller σ gives higher precision, larger σ more diversity (their Figure 1)":
        "In the static GM-GAN, a smaller σ gives higher-quality (more precise) digits and a larger σ lower "
        "quality but more diversity (their Figure 1, σ = 0.15, 0.5, 1; tested here: precision falls, recall and "
        "coverage rise from σ 0.15 to 1).",
    "cWGAN-GP with learnable class Gaussians is the best of their models":
        "Their final model, a conditional WGAN-GP with learnable class-specific latent Gaussians, gives both "
        "high sample quality and excellent mode coverage, the best of their models (tested here: FID against "
        "vanilla, the static GM-GAN and WGAN-GP).",
    "Hinge loss beats a plain WGAN":
        "The hinge loss gives better results than the Wasserstein loss (theirs: FID 22.08 vs 89.84, recall 0.20 "
        "vs 0.00).",
    "SAN beats its hinge base":
        "The slicing adversarial network (SAN) improves on its base GAN, the hinge loss (tested here: FID and "
        "recall).",
    "The dynamic supervised GM-GAN beats the vanilla baseline on FID, precision and recall":
        "Their best model, the dynamic supervised GM-GAN, improves significantly on a tuned vanilla baseline on "
        "all three metrics: lower FID, higher precision and higher recall.",
    "Vanilla skips classes; the dynamic GM-GAN does not (class histogram)":
        "The vanilla baseline is strongly biased towards some classes (it almost never makes a 2), while the "
        "dynamic GM-GAN covers every class (their Figure 6; tested here: class KL to uniform).",
    "EM-refit sampling lowers recall more than precision (theirs: −0.15 vs −0.02)":
        "Sampling from a 10-component Gaussian mixture fitted by EM to the codes of the inverted real digits "
        "gives realistic digits but worse FID, precision and recall than the model's own prior: precision drops "
        "by only 0.02, recall by 0.15.",
    "A mixture prior makes the digits linearly separable in z":
        "Their supervised GM-GAN 'forces the generator to produce samples that correspond to each cluster in the "
        "real data space' (tested here: separability, the held-out accuracy of a linear model that predicts the digit "
        "read from z, of the mixture-prior models against their Gaussian-prior counterparts: gm-static and "
        "gm-dynamic against vanilla, gm-static-wgan against wgan-gp).",
    "The dynamic GM-GAN's latent space is smoother than vanilla's (PPL)":
        "A question their best model raises rather than a sentence of the write-up: is the dynamic supervised "
        "GM-GAN's latent space smoother than the vanilla baseline's? (tested here: perceptual path length in the "
        "classifier's features, lower is smoother).",
    "No zoo model copies its training set":
        "Every shipped model makes digits of its own rather than copies of training digits (tested here: "
        "authenticity, Alaa et al. 2022, in the classifier's features, against that of real test digits).",
}

CLAIMS: list[dict] = [
    dict(writeup_id="000", claim="WGAN-GP gives better coverage than weight clipping",
         kind="compare", a="wgan-gp", b="wgan-wc", metrics=["coverage"]),
    dict(writeup_id="000", claim="Spectral normalisation is weaker than the gradient penalty",
         kind="compare", a="wgan-gp", b="wgan-sn", metrics=["fid", "coverage"]),
    dict(writeup_id="000", claim="Gaussian-mixture priors bring no measurable improvement (same WGAN-GP loss)",
         kind="compare", a="gm-static-wgan", b="wgan-gp", metrics=["fid", "recall"], expect="no gain"),
    dict(writeup_id="000", claim="Conditional + GMM (GMM-cWGAN-GP) struggles against the conditional WGAN-GP",
         kind="compare", a="cwgan-gp", b="gmm-cwgan-gp", metrics=["fid"]),
    dict(writeup_id="000", claim="DRS filters low-quality samples (precision up)",
         kind="refine", model="wgan-gp", method="drs", metrics=["precision"]),
    dict(writeup_id="001", claim="c = 0.01 gives 'a reasonable amount of saturation' of the clipped critic",
         kind="saturation", model="wgan-wc"),
    dict(writeup_id="001", claim="DRS improves FID",
         kind="refine", model="wgan-gp", method="drs", metrics=["fid"]),
    dict(writeup_id="001", claim="Target-space DOT improves FID (their 24.12 → 22.64: 20 steps, lr 0.01)",
         kind="refine", model="wgan-gp", method="dot-target", metrics=["fid"]),
    dict(writeup_id="002", claim="A static GM prior improves recall over vanilla",
         kind="compare", a="gm-static", b="vanilla", metrics=["recall"]),
    # seed 002's own c = 0.1; 8 epochs per σ to fit the CPU (their final model had 90)
    dict(writeup_id="002", claim="Smaller σ gives higher precision, larger σ more diversity (their Figure 1)",
         kind="sweep", variant="gm-static", knob="prior_sigma", values=[0.15, 0.5, 1.0],
         sets={"prior_c": 0.1, "epochs": 8}, trend={"precision": "down", "recall": "up", "coverage": "up"}),
    dict(writeup_id="002", claim="cWGAN-GP with learnable class Gaussians is the best of their models",
         kind="best", a="cwgan-gp", among=["vanilla", "gm-static", "wgan-gp", "cwgan-gp"], metrics=["fid"]),
    dict(writeup_id="003", claim="Hinge loss beats a plain WGAN", kind="compare", a="hinge", b="wgan",
         metrics=["fid", "recall"]),
    dict(writeup_id="003", claim="SAN beats its hinge base", kind="compare", a="san", b="hinge", metrics=["fid", "recall"]),
    dict(writeup_id="004", claim="The dynamic supervised GM-GAN beats the vanilla baseline on FID, precision and recall",
         kind="compare", a="gm-dynamic", b="vanilla", metrics=["fid", "precision", "recall"]),
    dict(writeup_id="004", claim="Vanilla skips classes; the dynamic GM-GAN does not (class histogram)",
         kind="compare", a="gm-dynamic", b="vanilla", metrics=["class_kl"]),
    # their 'EM static GM GAN': 10 components on the codes of the 50k train digits (1000 steps each)
    dict(writeup_id="004", claim="EM-refit sampling lowers recall more than precision (theirs: −0.15 vs −0.02)",
         kind="refit", model="gm-static", components=10, covariance="diag"),
    dict(writeup_id="004", claim="A mixture prior makes the digits linearly separable in z", kind="latent",
         metric="separability", pairs=[["gm-static", "vanilla"], ["gm-dynamic", "vanilla"], ["gm-static-wgan", "wgan-gp"]]),
    dict(writeup_id="004", claim="The dynamic GM-GAN's latent space is smoother than vanilla's (PPL)", kind="latent",
         metric="ppl", pairs=[["gm-dynamic", "vanilla"]]),
    dict(writeup_id="lab", claim="No zoo model copies its training set", kind="copies",
         among=["vanilla", "wgan", "wgan-wc", "wgan-gp", "wgan-sn", "hinge", "san", "gm-static", "gm-static-wgan",
                "gm-static-cluster", "gm-static-sup", "gm-dynamic", "cwgan-gp", "gmm-cwgan-gp"]),
]
