"""Axis labels (with units) of the metrics."""

LABELS = {
    "ctr": "CTR (clicks / impression)",
    "expected_ctr": "expected CTR (click prob. / impression)",
    "regret": "regret (expected clicks / visit)",
    "cum_regret": "cumulative regret (expected clicks)",
    "precision_at_k": "precision@k",
    "ndcg_at_k": "NDCG@k",
    "ild": "intra-list diversity (cosine distance)",
    "coverage": "catalogue coverage (share of items)",
    "novelty": "novelty (bits)",
    "exposure_gini": "exposure Gini (0 = equal)",
    "exposure_entropy": "exposure entropy (bits)",
    "excess_group_gap": "group CTR gap beyond the oracle's (+ widens)",
    "group_regret_gap": "group regret gap (max − min)",
    "new_item_exposure": "new-item share of impressions",
    "new_item_recall": "new items of the best slates shown (so far)",
    "churn_rate": "users leaving per visit",
    "user_lifetime": "visits per user (so far)",
    "user_homogeneity": "user homogeneity (mean pairwise cos u·u')",
    "consumption_overlap": "consumption overlap (mean pairwise Jaccard)",
    "explore_fraction": "explored share of slots",
    "prediction_mae": "prediction MAE (mean |p̂ − a| over items)",
    "preference_spearman": "preference recovery (Spearman ρ)",
    "greedy_ndcg": "NDCG@k of the model's own greedy top-k",
}


def label(metric: str) -> str:
    return LABELS.get(metric, metric)
