/** Documents the setup tests expect, written out once, for every form setup hands them over in. */

/** The archive bucket's TLS-only policy, given the bucket's ARN and its objects' (strings, or CloudFormation's Fn::Sub). */
export function tlsOnlyPolicyDocument(bucketArn: unknown, objectsArn: unknown) {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'DenyInsecureTransport',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: [bucketArn, objectsArn],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ],
  };
}
