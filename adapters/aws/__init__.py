"""AWS implementations: DynamoDB, S3, Polly, Cognito. Only these import boto3."""
