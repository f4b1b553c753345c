resource "aws_sagemaker_model_package_group" "models" {
  model_package_group_name        = "${var.name_prefix}-models"
  model_package_group_description = "Approved model versions; serving deploys only Approved packages."
  tags                            = var.tags
}
# ---- outputs.tf ----
output "model_package_group" {
  description = "SageMaker Model Registry group of the model versions."
  value       = aws_sagemaker_model_package_group.models.model_package_group_name
}
