# Keypoint-order mappings for MMPose's KeypointConverter, (source index, target index)
# pairs into the 21-point OneHand10K / COCO-WholeBody-hand / FreiHAND / CMU Panoptic order:
# wrist, then each finger (thumb, fore, middle, ring, pinky) from base to tip.
# RHD lists each finger tip-first (1 = thumb tip ... 4 = thumb base), so its finger
# points are reversed; the mapping is its own inverse (the same list converts back).
# Any config that mixes or combines datasets puts every sub-dataset through one of these.
rhd2d_to_onehand10k = [
    (0, 0),
    (1, 4), (2, 3), (3, 2), (4, 1),          # thumb
    (5, 8), (6, 7), (7, 6), (8, 5),          # forefinger
    (9, 12), (10, 11), (11, 10), (12, 9),    # middle finger
    (13, 16), (14, 15), (15, 14), (16, 13),  # ring finger
    (17, 20), (18, 19), (19, 18), (20, 17),  # pinky
]
# OneHand10K, FreiHAND, CMU Panoptic and COCO-WholeBody-hand already use the order.
onehand10k_identity = [(i, i) for i in range(21)]
